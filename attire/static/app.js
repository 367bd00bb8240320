// The page's behaviour: send an image to /v1/predict and draw the answer. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let classes = [];      // class names in label order, from /v1/classes
let photoUrl = null;   // the object URL of the image on show, revoked when replaced

async function apiError(response) {
  // The API's errors are {"error": {"code", "message"}}; anything else (a proxy's page) is shown as is.
  try {
    const body = await response.json();
    return body.error ? body.error.message : JSON.stringify(body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setBusy(text) {
  $("status").textContent = text;
  document.body.classList.toggle("busy", Boolean(text));
}

async function classify(blob, filename, trueLabel) {
  showError("");
  setBusy("Classifying…");
  const form = new FormData();
  form.append("file", blob, filename);
  try {
    const response = await fetch("/v1/predict?top_k=10&view=1", { method: "POST", body: form });
    if (!response.ok) {
      showError(await apiError(response));
      return;
    }
    const { predictions } = await response.json();
    show(blob, predictions[0], trueLabel);
  } catch (error) {
    showError(`The server did not answer (${error.message}). Is attire serve still running?`);
  } finally {
    setBusy("");
  }
}

function show(blob, prediction, trueLabel) {
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(blob);
  // A dataset-sized image is enlarged as crisp pixels, as the model's view is, not blurred.
  $("photo").onload = () => $("photo").classList.toggle("pixelated", $("photo").naturalWidth <= 64);
  $("photo").src = photoUrl;
  $("model-view").src = `data:image/png;base64,${prediction.view_png}`;
  $("answer-label").textContent = prediction.label;
  $("answer-label").dataset.classIndex = prediction.class_index;
  $("answer-probability").textContent = `(${percent(prediction.probability)})`;

  const truth = $("true-label");
  truth.hidden = trueLabel === undefined;
  if (trueLabel !== undefined) {
    const right = trueLabel === prediction.label;
    truth.textContent = `True label: ${trueLabel} (${right ? "right" : "wrong"})`;
    truth.className = right ? "right" : "wrong";
  }
  drawBars(prediction);
  $("result").hidden = false;
}

function drawBars(prediction) {
  // In class order, so the bars stay put from one image to the next.
  const probability = Object.fromEntries(prediction.top_k.map((item) => [item.label, item.probability]));
  const names = classes.length ? classes : prediction.top_k.map((item) => item.label);
  $("bars").replaceChildren(...names.map((name) => {
    const row = document.createElement("li");
    row.className = name === prediction.label ? "bar winner" : "bar";
    const value = probability[name] ?? 0;
    row.innerHTML = `<span class="bar-label"></span><span class="bar-track" aria-hidden="true">` +
      `<span class="bar-fill"></span></span><span class="bar-value"></span>`;
    row.querySelector(".bar-label").textContent = name;
    row.querySelector(".bar-fill").style.width = `${(value * 100).toFixed(1)}%`;
    row.querySelector(".bar-value").textContent = percent(value);
    return row;
  }));
}

function percent(p) {
  return `${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
}

async function randomSample() {
  showError("");
  setBusy("Fetching a random test image…");
  try {
    const response = await fetch("/v1/samples/random");
    if (!response.ok) {
      showError(await apiError(response));
      setBusy("");
      return;
    }
    const blob = await response.blob();
    const index = response.headers.get("X-Sample-Index");
    await classify(blob, `test-image-${index}.png`, response.headers.get("X-Label"));
  } catch (error) {
    showError(`The server did not answer (${error.message}). Is attire serve still running?`);
    setBusy("");
  }
}

function pickFile(input) {
  const file = input.files[0];
  if (file) classify(file, file.name);
  input.value = "";  // choosing the same file again still fires "change"
}

async function describeModel() {
  try {
    const [model, names] = await Promise.all([fetch("/v1/model"), fetch("/v1/classes")]);
    const info = await model.json();
    classes = (await names.json()).classes;
    const accuracy = info.test_accuracy == null ? "" : `, ${percent(info.test_accuracy)} right on the test set`;
    const size = info.parameters == null ? "" : `, ${info.parameters.toLocaleString("en")} parameters`;
    $("model-info").textContent = `Model: ${info.name} (preset ${info.preset}${accuracy}${size}), ${info.engine} engine.`;
  } catch (error) {
    $("model-info").textContent = `Could not describe the model (${error.message}).`;
  }
}

function setUpDropZone() {
  const zone = $("drop-zone");
  const stop = (event) => { event.preventDefault(); event.stopPropagation(); };
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    stop(event);
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, (event) => {
    stop(event);
    zone.classList.remove("dragging");
  }));
  zone.addEventListener("drop", (event) => {
    const file = event.dataTransfer.files[0];
    if (file) classify(file, file.name);
  });
  // A photo dropped beside the zone would make the browser navigate away to it.
  ["dragover", "drop"].forEach((type) => window.addEventListener(type, (event) => event.preventDefault()));
}

$("file-input").addEventListener("change", (event) => pickFile(event.target));
$("camera-input").addEventListener("change", (event) => pickFile(event.target));
$("sample-button").addEventListener("click", randomSample);
setUpDropZone();
describeModel();
