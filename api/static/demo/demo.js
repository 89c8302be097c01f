// Music Gateway in a page: create songs, follow them all live on one stream, play the clips,
// get a WAV, upload your own audio and cover it.
// Everything a frontend needs is here; copy what you like.

const $ = (id) => document.getElementById(id);

// Every call sends the user's token; errors arrive as RFC 9457 problem details.
async function api(path, options = {}) {
  // A FormData body (an upload) sets its own multipart Content-Type, with the boundary.
  const json = options.body instanceof FormData ? {} : { "Content-Type": "application/json" };
  const response = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${$("token").value.trim()}`,
      ...json,
      ...options.headers,
    },
  });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error(body.detail || body.title);
    error.problem = body;
    throw error;
  }
  return body;
}

// A clip's WAV: a job on the clip (202), announced on the generation's stream like the rest.
function renderWav(card, clip) {
  const place = card.querySelector(".wav");
  const job = clip.jobs.find((j) => j.kind === "wav");
  if (clip.state !== "succeeded") {
    place.replaceChildren();
  } else if (job && job.status === "succeeded" && job.files[0] && job.files[0].url) {
    const link = document.createElement("a");
    link.href = job.files[0].url; // signed, like audio_url
    link.download = `${clip.title || "clip"}.wav`;
    link.textContent = "Download WAV";
    place.replaceChildren(link);
  } else if (job && job.status !== "failed") {
    place.textContent = "Making the WAV…";
  } else if (!place.querySelector("button")) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Get WAV";
    button.addEventListener("click", () => requestWav(clip.id, button));
    place.replaceChildren(button);
    if (job) place.prepend(`WAV failed: ${job.error.detail} `);
  }
}

async function requestWav(clipId, button) {
  button.disabled = true;
  try {
    // A fresh key per click; asking again for a clip's WAV returns the same job, free.
    await api(`/api/v1/clips/${clipId}/wav`, {
      method: "POST",
      headers: { "Idempotency-Key": crypto.randomUUID() },
    });
    // Nothing else to do: the stream announces the job until its file is stored.
  } catch (error) {
    button.disabled = false;
    button.parentElement.prepend(`${error.message} `);
  }
  showQuota();
}

// An uploaded clip, once the music service has made its own clip of it (state succeeded), is
// a source like any clip: a cover is POST /generations with operation cover and source_clip.
function renderCover(card, clip, generation) {
  const place = card.querySelector(".cover");
  if (generation.operation !== "upload" || clip.state !== "succeeded") {
    place.textContent = generation.operation === "upload" && clip.state !== "failed"
      ? "Sending your audio to the music service…" : "";
    return;
  }
  if (place.querySelector("button")) return;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Cover it";
  button.addEventListener("click", () => requestCover(clip.id, button));
  place.replaceChildren(button);
}

async function requestCover(clipId, button) {
  button.disabled = true;
  try {
    const generation = await api("/api/v1/generations", {
      method: "POST",
      headers: { "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({
        operation: "cover",
        source_clip: clipId,
        description: $("description").value,
      }),
    });
    shown = generation.id; // the cover's clips replace the upload's below
    render(generation);
  } catch (error) {
    button.disabled = false;
    button.parentElement.prepend(`${error.message} `);
  }
  showQuota();
}

let shown = null; // the id of the generation shown below: the latest one created

// Every generation on the page, one line each: one stream follows them all.
function renderLine(generation) {
  let line = $("songs").querySelector(`[data-generation="${generation.id}"]`);
  if (!line) {
    line = document.createElement("li");
    line.dataset.generation = generation.id;
    $("songs").prepend(line);
  }
  line.dataset.status = generation.status;
  const playable = generation.clips.filter((c) => c.audio_url).length;
  line.textContent = `${generation.description || generation.title}: ${generation.status}` +
    (playable ? `, ${playable} clip(s) playable` : "");
}

function render(generation) {
  renderLine(generation);
  if (generation.id !== shown) return; // in the list only
  $("result").hidden = false;
  if ($("status").textContent !== generation.status) {
    $("status").textContent = generation.status;
    const line = document.createElement("li");
    line.textContent = `${new Date().toLocaleTimeString()} ${generation.status}`;
    $("log").append(line);
  }
  if (generation.error) {
    $("error").hidden = false;
    $("error").textContent = generation.error.detail;
  }
  // A clip's card is made once and kept in the page: replacing its <audio> would stop a song
  // that plays (its URL keeps working when the copy lands, so later events change nothing).
  if ($("clips").dataset.generation !== generation.id) {
    $("clips").replaceChildren();
    $("clips").dataset.generation = generation.id;
  }
  for (const clip of generation.clips.filter((c) => c.audio_url)) {
    let card = $("clips").querySelector(`[data-clip="${clip.id}"]`);
    if (!card) {
      card = document.createElement("div");
      card.className = "clip";
      card.dataset.clip = clip.id;
      card.innerHTML =
        `<img alt=""><div><strong></strong><audio controls preload="none"></audio>` +
        `<p class="wav"></p><p class="cover"></p></div>`;
      card.querySelector("audio").src = clip.audio_url; // signed: no header needed
      $("clips").append(card);
    }
    if (clip.image_url && !card.querySelector("img").getAttribute("src")) {
      card.querySelector("img").src = clip.image_url;
    }
    card.querySelector("strong").textContent = `${clip.title} (${Math.round(clip.duration)} s)`;
    renderWav(card, clip);
    renderCover(card, clip, generation);
  }
}

// Live status without polling, for every song at once: one EventSource on GET /api/v1/events
// (browsers allow six connections per origin; one stream per song would stall the seventh).
// EventSource cannot send headers, so it opens the signed events_url of GET /api/v1/me. Each
// event's data is {id, type, timestamp, clip, data: the generation now}; `id` resumes a reconnect.
let stream = null;
async function followAll() {
  if (stream) return;
  const me = await api("/api/v1/me");
  stream = new EventSource(me.events_url);
  const types = ["generation.queued", "generation.running", "generation.succeeded",
    "generation.failed", "generation.canceled", "clip.streaming", "clip.succeeded",
    "clip.failed", "clip.media_ready", "clip.media_failed", "clip.job_updated"];
  for (const type of types) {
    stream.addEventListener(type, (message) => {
      render(JSON.parse(message.data).data);
      if (type.startsWith("generation.") && type !== "generation.queued") showQuota();
    });
  }
  // The link expires (MEDIA_URL_MAX_AGE_S): the stream ends; open a fresh one.
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(followAll, 3000);
    }
  });
}

async function showQuota() {
  try {
    const me = await api("/api/v1/me");
    const u = me.usage;
    $("quota").textContent =
      `Plan ${me.plan.name}: ${u.remaining} of ${u.limit} credits left this ${me.plan.period} ` +
      `(a song costs ${me.prices.create}, a WAV ${me.prices.wav}, an upload ` +
      `${me.prices.upload}), ` +
      `${u.in_flight} in progress; resets ${new Date(u.resets_at).toLocaleString()}.`;
  } catch (error) {
    $("quota").textContent = error.message;
  }
}

$("create").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("generate").disabled = true;
  $("log").replaceChildren();
  $("status").textContent = "";
  $("error").hidden = true;
  try {
    const generation = await api("/api/v1/generations", {
      method: "POST",
      // A fresh key per click: a retried request can never make (or bill) a second song.
      headers: { "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({
        description: $("description").value,
        instrumental: $("instrumental").checked,
      }),
    });
    shown = generation.id;
    render(generation);
  } catch (error) {
    $("result").hidden = false;
    $("error").hidden = false;
    $("error").textContent = error.message;
  }
  $("generate").disabled = false; // another song may start while this one plays
  showQuota();
});

// Your own audio: a multipart POST /api/v1/uploads (MP3 or WAV, 6-60 s). A 400/413 names the
// limit the file broke; the 202 is a generation of operation "upload" whose clip plays at once.
$("upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("upload-button").disabled = true;
  $("log").replaceChildren();
  $("status").textContent = "";
  $("error").hidden = true;
  const form = new FormData();
  form.append("file", $("audio").files[0]);
  try {
    const generation = await api("/api/v1/uploads", {
      method: "POST",
      headers: { "Idempotency-Key": crypto.randomUUID() },
      body: form,
    });
    shown = generation.id;
    render(generation);
  } catch (error) {
    $("result").hidden = false;
    $("error").hidden = false;
    $("error").textContent = error.message;
  }
  $("upload-button").disabled = false;
  showQuota();
});

// Open the stream before the first song, so its `generation.queued` is heard too.
$("create").addEventListener("submit", () => followAll(), { capture: true });
$("upload").addEventListener("submit", () => followAll(), { capture: true });
if ($("token").value) {
  showQuota();
  followAll();
}
