#!/usr/bin/env node
// Lab 12 model answer, stage 2, in JavaScript (teacher's mode; see replica.js and ../answers.md).
"use strict";
require("./replica").main(2);
