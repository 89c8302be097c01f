// Music Gateway in a page: create a generation, follow it live, play the clips.
// Everything a frontend needs is here; copy what you like.

const $ = (id) => document.getElementById(id);

// Every call sends the user's token; errors arrive as RFC 9457 problem details.
async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${$("token").value.trim()}`,
      "Content-Type": "application/json",
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

// The stream ends when the generation is over and its audio is stored.
function isDone(generation) {
  const terminal = ["succeeded", "failed", "canceled"].includes(generation.status);
  const copying = generation.clips.some((c) => c.state === "succeeded" && c.media === "pending");
  return terminal && !(generation.status === "succeeded" && copying);
}

function render(generation) {
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
      card.innerHTML = `<img alt=""><div><strong></strong><audio controls preload="none"></audio></div>`;
      card.querySelector("audio").src = clip.audio_url; // signed: no header needed
      $("clips").append(card);
    }
    if (clip.image_url && !card.querySelector("img").getAttribute("src")) {
      card.querySelector("img").src = clip.image_url;
    }
    card.querySelector("strong").textContent = `${clip.title} (${Math.round(clip.duration)} s)`;
  }
}

async function showQuota() {
  try {
    const me = await api("/api/v1/me");
    const u = me.usage;
    $("quota").textContent =
      `Plan ${me.plan.name}: ${u.used} of ${u.limit} used this ${me.plan.period}, ` +
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
    render(generation);
    // Live status without polling: EventSource cannot send headers, so use the signed URL.
    const events = new EventSource(generation.events_url);
    events.addEventListener("generation", (message) => {
      const current = JSON.parse(message.data);
      render(current);
      if (isDone(current)) {
        events.close();
        $("generate").disabled = false;
        showQuota();
      }
    });
  } catch (error) {
    $("result").hidden = false;
    $("error").hidden = false;
    $("error").textContent = error.message;
    $("generate").disabled = false;
  }
  showQuota();
});

if ($("token").value) showQuota();
