// The chat page's client: the official phoenix.js, served by the chat server
// from node_modules as an ES module. No framework, no build step.
import { Presence, Socket } from "/vendor/phoenix.mjs";

const $ = (id) => document.getElementById(id);
const loginForm = $("login");
const nameInput = $("name");
const joinButton = $("join");
const statusText = $("status");
const messages = $("messages");
const composer = $("composer");
const bodyInput = $("body");
const sendButton = $("send");
const notice = $("notice");
const online = $("online");
const onlineCount = $("online-count");

let socket = null;
let channel = null;

function setStatus(text, state) {
  statusText.textContent = text;
  statusText.dataset.state = state;
}

function setNotice(text) {
  notice.textContent = text;
}

function setComposer(enabled) {
  bodyInput.disabled = !enabled;
  sendButton.disabled = !enabled;
}

function addMessage({ user, body }) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "user";
  who.textContent = user;
  const text = document.createElement("span");
  text.className = "body";
  text.textContent = body;
  li.append(who, text);
  messages.append(li);
  li.scrollIntoView({ block: "end" });
}

// Who is online: one line per name, with the number of tabs when several.
function renderOnline(presence) {
  const people = presence.list((name, { metas }) => ({ name, tabs: metas.length }))
    .sort((a, b) => a.name.localeCompare(b.name));
  online.replaceChildren(...people.map(({ name, tabs }) => {
    const li = document.createElement("li");
    li.textContent = name;
    if (tabs > 1) {
      const n = document.createElement("span");
      n.className = "tabs";
      n.textContent = ` ×${tabs}`;
      li.append(n);
    }
    return li;
  }));
  onlineCount.textContent = String(people.length);
}

// Back to the name form, e.g. after the server refused the connection.
function reset(message) {
  if (socket) socket.disconnect();
  socket = null;
  channel = null;
  online.replaceChildren();
  onlineCount.textContent = "0";
  nameInput.disabled = false;
  joinButton.disabled = false;
  setComposer(false);
  setStatus(message, "error");
  nameInput.focus();
}

function join(name) {
  nameInput.disabled = true;
  joinButton.disabled = true;
  setNotice("");
  setStatus("connecting…", "connecting");

  // The server signs a token for the name (Phoenix.Token's format);
  // the socket connects with it.
  fetch("/token", { method: "POST", body: new URLSearchParams({ name }) })
    .then((resp) => (resp.ok ? resp.json() : Promise.reject(new Error(`token: HTTP ${resp.status}`))))
    .then(({ token }) => connect(token))
    .catch(() => reset("could not get a token: the server refused the name or is down"));
}

function connect(token) {
  let everJoined = false;
  socket = new Socket("/socket", { params: { token } });
  socket.onError(() => {
    if (!everJoined) {
      reset("could not connect: the server refused the name or is down");
    } else {
      setStatus("connection lost, reconnecting…", "connecting");
      setComposer(false);
    }
  });
  socket.connect();

  channel = socket.channel("room:lobby", {});
  channel.on("new_msg", addMessage);
  // The server pushes presence_state after every join and broadcasts
  // presence_diff on every change; Presence keeps the list in step.
  const presence = new Presence(channel);
  presence.onSync(() => renderOnline(presence));
  channel.onError(() => {
    setStatus("reconnecting…", "connecting");
    setComposer(false);
  });
  channel.join()
    .receive("ok", () => {
      // Fires again after every automatic rejoin.
      everJoined = true;
      setStatus("joined", "joined");
      setComposer(true);
      bodyInput.focus();
    })
    .receive("error", (resp) => setStatus(`join refused: ${resp?.reason ?? "unknown reason"}`, "error"))
    .receive("timeout", () => setStatus("join timed out, retrying…", "connecting"));
}

function send() {
  const body = bodyInput.value.trim();
  if (!body || !channel) return;
  sendButton.disabled = true;
  channel.push("new_msg", { body })
    .receive("ok", () => {
      bodyInput.value = "";
      setNotice("");
      sendButton.disabled = false;
      bodyInput.focus();
    })
    .receive("error", (resp) => {
      setNotice(`not sent: ${resp?.reason ?? "error"}`);
      sendButton.disabled = false;
    })
    .receive("timeout", () => {
      setNotice("not sent: the server did not answer");
      sendButton.disabled = false;
    });
}

loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const name = nameInput.value.trim();
  if (!name) {
    setStatus("enter a name first", "error");
    nameInput.focus();
    return;
  }
  join(name);
});

// A submit button in the form: Enter in #body sends too.
composer.addEventListener("submit", (e) => {
  e.preventDefault();
  send();
});
