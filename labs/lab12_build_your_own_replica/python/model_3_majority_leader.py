#!/usr/bin/env python3
"""Lab 12 model answer, stage 3: majority-replicated leader (teacher's mode; see replica.py and answers.md)."""
from replica import main

if __name__ == "__main__":
    main(3)
