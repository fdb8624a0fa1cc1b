// Every request of the page: the admin token, JSON errors and the notice area.
import {el} from "./util.js";

const TOKEN_KEY = "replicalab.adminToken";

/** The admin token typed in the page, kept for this browser tab only. */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

/** Remember (or forget, when empty) the admin token for this tab. */
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A failed request: the HTTP status (0 when the server did not answer) and its JSON. */
export class ApiError extends Error {
  constructor(status, data) {
    super(data && data.message ? data.message : `HTTP ${status}`);
    this.status = status;
    this.data = data || {};
  }
}

/** Call the API with the token; resolve with the JSON answer or reject with ApiError. */
export async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = {method, headers, cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, {message: "The server did not answer: is python run.py still running?"});
  }
  let data;
  try {
    data = await response.json();
  } catch (error) {
    data = {message: `${response.status} ${response.statusText}: the answer was not JSON.`};
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const MAX_NOTICES = 4;

/** Show a sentence at the top of the page; errors stay until closed, others fade. */
export function notify(text, kind = "info") {
  const box = document.getElementById("notices");
  const close = el("button", {type: "button", class: "close", "aria-label": "Close this message", text: "×"});
  const notice = el("div", {class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null},
                    el("span", {class: "notice-text", text}), close);
  close.addEventListener("click", () => notice.remove());
  box.append(notice);
  while (box.children.length > MAX_NOTICES) box.firstElementChild.remove();
  if (kind !== "error") setTimeout(() => notice.remove(), 6000);
}

/** Show why a request failed: the JSON error's message, with its status. */
export function notifyError(what, error) {
  const status = error.status ? ` (${error.status}${error.data.error ? " " + error.data.error : ""})` : "";
  notify(`${what} failed${status}: ${error.message}`, "error");
}

let afterControl = () => {};

/** What to do after every control request (the dashboard refreshes its views). */
export function onControlDone(callback) {
  afterControl = callback;
}

/** Run a control request; report its message or failure; resolve to the answer or null. */
let showAnswer = () => {};

/** Where control answers are shown in full (story and facts): set once by controls.js. */
export function onAnswer(show) { showAnswer = show; }

export async function control(what, method, path, body) {
  try {
    const answer = await api(method, path, body);
    if (answer.message) notify(answer.message, "ok");
    showAnswer(answer, null, what);
    return answer;
  } catch (error) {
    notifyError(what, error);
    showAnswer(null, error, what);
    return null;
  } finally {
    afterControl();
  }
}
