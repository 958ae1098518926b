"""`sauti demo --serve`: a small local web page to upload or record speech and see the prediction.

Why the standard library (http.server) and no web framework: the page has one form and one
result, it must work in the light base install, and it listens on 127.0.0.1 only, for the user
at this machine. The page is self-contained (inline CSS and script, nothing from the network).
Each upload is written to a temporary file, checked as audio, and predicted with
sauti.ml.bundle.predict, i.e. exactly the pipeline `sauti demo --file` uses.

Sturdiness: every request has its own thread (a slow upload does not hold up anyone else;
predictions take turns through a lock), the body's size is checked from Content-Length before
a byte of it is read, a malformed or missing Content-Length is a 400 with a plain message, the
upload must arrive within REQUEST_TIME_LIMIT_S, and a client that goes away costs one log line,
never a traceback.

Recording: the browser's MediaRecorder gives WebM/Opus (Chrome) or Ogg (Firefox), and
libsndfile (soundfile) cannot decode WebM; so the page captures the microphone's PCM samples
through the Web Audio API and packs them as a 16-bit WAV file, which every sauti path reads.

Long recordings: a file longer than TIMELINE_FROM_S is also cut at its pauses with sauti's
silero VAD (sauti.ml.vad, as SEGMENT does) and each speech segment is predicted on its own, so the
page shows a timeline instead of one label for the whole file.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sauti.core import audio
from sauti.core.errors import SautiError
from sauti.ml.bundle import predict
from sauti.stages.segment import fit_lengths, speech_silero

log = logging.getLogger("sauti.app.webdemo")

HOST = "127.0.0.1"
MAX_UPLOAD = 50 * 1024 * 1024  # bytes; a minute of 16-bit 48 kHz stereo is about 11 MB
FIELD = "audio"
REQUEST_TIME_LIMIT_S = 120.0  # to receive one upload (50 MB on a slow link is well within)
IDLE_TIMEOUT_S = 30.0  # a connection that sends nothing for this long is closed
PREDICT_WAIT_S = 300.0  # how long a request waits for its turn to predict
TIMELINE_FROM_S = 6.0  # longer recordings are also predicted per speech segment
SEGMENT_MIN_S, SEGMENT_MAX_S = 0.25, 8.0  # segment lengths of the timeline (sauti.segment)
KEEP_UPLOADS = 8  # recent uploads kept in memory for the page's player
AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
}


class RequestError(Exception):
    """A client mistake answered with `status` and a one-line message (no traceback)."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The client closed the connection before sending everything it announced."""


class DemoServer(ThreadingHTTPServer):
    """An HTTP server that holds one bundle; each request has a thread, predictions take turns."""

    daemon_threads = True

    def __init__(self, bundle: dict, name: str, port: int = 0):
        self.bundle, self.name = bundle, name
        self.lock = threading.Lock()
        self.uploads: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        try:
            super().__init__((HOST, port), DemoHandler)
        except OSError as exc:
            raise SautiError(
                f"cannot listen on {HOST}:{port} ({exc.strerror or exc})",
                hint="the port is probably in use; choose another with --port",
            ) from exc

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def handle_error(self, request, client_address) -> None:
        """socketserver prints a traceback for any exception; a client that left is one line."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, ClientGone)):
            log.info("%s: connection closed (%s)", client_address[0], error.__class__.__name__)
        else:
            log.error("request from %s failed: %r", client_address[0], error)

    def keep_upload(self, filename: str, payload: bytes) -> str:
        """Remember an upload for the result page's player; returns its token."""
        token = secrets.token_urlsafe(12)
        kind = AUDIO_TYPES.get(Path(filename).suffix.lower(), "application/octet-stream")
        with self.lock:
            self.uploads[token] = (payload, kind)
            while len(self.uploads) > KEEP_UPLOADS:
                self.uploads.popitem(last=False)
        return token

    def predict_upload(self, filename: str, payload: bytes) -> dict:
        """{"file", "duration", "prediction", "probabilities": {label: p}, "segments": [...]}
        or a SautiError for the user; `segments` (a timeline) for recordings longer than
        TIMELINE_FROM_S with more than one stretch of speech."""
        if not filename or not payload:
            raise SautiError("choose an audio file (wav, flac or ogg) first")
        suffix = Path(filename).suffix.lower()[:10] if Path(filename).suffix else ".wav"
        with tempfile.TemporaryDirectory(prefix="sauti-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(payload)
            try:
                duration, _ = audio.info(path)
            except SautiError as exc:
                raise SautiError(
                    f"{filename} is not an audio file sauti can read (wav, flac or ogg)"
                ) from exc
            if duration <= 0:
                raise SautiError(f"{filename} holds no audio samples")
            if not self.lock.acquire(timeout=PREDICT_WAIT_S):
                raise RequestError(
                    HTTPStatus.SERVICE_UNAVAILABLE, "the demo is busy; try again in a minute"
                )
            try:
                whole, segments = self._predict(str(path), duration)
            finally:
                self.lock.release()
        return {
            "file": filename,
            "duration": round(duration, 3),
            **whole,
            "segments": segments,
        }

    def _predict(self, path: str, duration: float) -> tuple[dict, list[dict]]:
        import pandas as pd

        pieces = timeline_segments(path) if duration > TIMELINE_FROM_S else []
        if len(pieces) < 2:
            pieces = []
        rows = pd.DataFrame(
            {
                "file": path,
                "start": [0.0] + [s for s, _ in pieces],
                "end": [duration] + [e for _, e in pieces],
            }
        )
        table = predict(self.bundle, rows)
        results = [self._result(row) for _, row in table.iterrows()]
        segments = [
            {"start": round(s, 3), "end": round(e, 3), **result}
            for (s, e), result in zip(pieces, results[1:], strict=True)
        ]
        return results[0], segments

    def _result(self, row) -> dict:
        prediction = row["prediction"]
        return {
            "prediction": prediction if isinstance(prediction, str) else float(prediction),
            "probabilities": {
                label: float(row[f"proba_{label}"])
                for label in self.bundle["labels"] or []
                if f"proba_{label}" in row.index
            },
        }


def timeline_segments(path: str) -> list[tuple[float, float]]:
    """Speech segments of a recording: silero VAD, then merged/split to SEGMENT_MIN_S ..
    SEGMENT_MAX_S exactly as the SEGMENT stage does (sauti.segment.fit_lengths)."""
    return fit_lengths(speech_silero(audio.read(path)), SEGMENT_MIN_S, SEGMENT_MAX_S)


class DemoHandler(BaseHTTPRequestHandler):
    server: DemoServer
    timeout = IDLE_TIMEOUT_S  # socket timeout: a silent client does not hold a thread forever

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, page(self.server.name, self.server.bundle))
        elif path.startswith("/upload/") and path[8:] in self.server.uploads:
            payload, kind = self.server.uploads[path[8:]]
            self._send_bytes(HTTPStatus.OK, payload, kind)
        else:
            self._send(
                HTTPStatus.NOT_FOUND, page(self.server.name, self.server.bundle, error="not found")
            )

    def do_POST(self):  # noqa: N802
        bundle, name = self.server.bundle, self.server.name
        wants_json = "application/json" in self.headers.get("Accept", "")
        try:
            filename, payload = self._read_upload()
            result = self.server.predict_upload(filename, payload)
            result["audio"] = "/upload/" + self.server.keep_upload(filename, payload)
        except ClientGone:
            log.info("%s: the client left during its upload", self.address_string())
            self.close_connection = True
            return
        except (SautiError, RequestError) as err:
            status = getattr(err, "status", HTTPStatus.BAD_REQUEST)
            self.close_connection = True  # an unread body must not be taken for a request
            if wants_json:
                self._send_bytes(status, _json({"error": str(err)}), "application/json")
            else:
                self._send(status, page(name, bundle, error=str(err)))
            return
        except Exception as exc:  # a bug must not kill the server; show it, log it
            log.exception("prediction failed")
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR, page(name, bundle, error=f"internal error: {exc}")
            )
            return
        if wants_json:
            self._send_bytes(HTTPStatus.OK, _json(result), "application/json")
        else:
            self._send(HTTPStatus.OK, page(name, bundle, result=result))

    def _read_upload(self) -> tuple[str, bytes]:
        """(filename, bytes) of the form's audio field, parsed with the email package; the size
        is checked before the body is read, and the body must arrive in time."""
        length = self._content_length()
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise RequestError(HTTPStatus.BAD_REQUEST, "send the file with the form on this page")
        body = self._read_body(length)
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == FIELD:
                return part.get_filename() or "", part.get_payload(decode=True) or b""
        raise SautiError("choose an audio file (wav, flac or ogg) first")

    def _content_length(self) -> int:
        text = self.headers.get("Content-Length")
        if text is None:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request has no Content-Length header")
        if not text.strip().isdigit():
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"Content-Length {text!r} is not a number of bytes",
            )
        length = int(text)
        if length > MAX_UPLOAD:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the upload is larger than {MAX_UPLOAD // 2**20} MB",
            )
        return length

    def _read_body(self, length: int) -> bytes:
        deadline = time.monotonic() + REQUEST_TIME_LIMIT_S
        chunks, left = [], length
        while left:
            if time.monotonic() > deadline:
                raise RequestError(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the upload took longer than {REQUEST_TIME_LIMIT_S:.0f} s",
                )
            try:
                chunk = self.rfile.read1(min(left, 1 << 16))
            except TimeoutError as exc:
                raise RequestError(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the upload stalled for {IDLE_TIMEOUT_S:.0f} s",
                ) from exc
            except ConnectionError as exc:
                raise ClientGone(str(exc)) from exc
            if not chunk:
                raise ClientGone(f"{length - left} of {length} bytes arrived")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _send(self, status: HTTPStatus, text: str) -> None:
        self._send_bytes(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _send_bytes(self, status: HTTPStatus, data: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except ConnectionError:  # the client did not wait for the answer
            self.close_connection = True
            log.info("%s: left before the answer", self.address_string())

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        log.info("%s %s", self.address_string(), format % args)


def _json(data) -> bytes:
    return json.dumps(data).encode("utf-8")


# --------------------------------------------------------------------------- the page

COLOURS = ["#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a5a5a5", "#843c0c"]


def page(name: str, bundle: dict, result: dict | None = None, error: str | None = None) -> str:
    """The whole page: the upload form and recorder, then the result (a bar per class, the
    player, and for a long recording the per-segment timeline) or the error."""
    esc = html.escape
    labels = bundle["labels"] or []
    what = f"{esc(bundle['target'])}" + (f" ({esc(', '.join(labels))})" if labels else "")
    parts = []
    if error:
        parts.append(f'<p id="error" class="error">{esc(error)}</p>')
    if result:
        rows = "".join(
            f'<tr class="proba" data-label="{esc(label)}" data-value="{p:.6f}">'
            f"<td>{esc(label)}</td>"
            f'<td class="track"><div class="bar" style="width:{100 * p:.1f}%"></div></td>'
            f'<td class="num">{p:.3f}</td></tr>'
            for label, p in result["probabilities"].items()
        )
        player = (
            f'<audio id="upload-player" controls preload="metadata" src="{esc(result["audio"])}"></audio>'
            if result.get("audio")
            else ""
        )
        parts.append(
            f'<section id="result"><p>File: <span id="filename">{esc(result["file"])}</span>'
            f' <span class="note">({result.get("duration", 0):.1f} s)</span></p>{player}'
            f'<p class="prediction">Prediction: <strong id="prediction">{esc(_shown(result["prediction"]))}</strong>'
            f"{' <span class=note>(whole file)</span>' if result.get('segments') else ''}</p>"
            + (f'<table id="probabilities">{rows}</table>' if rows else "")
            + _timeline(result, labels)
            + "</section>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(name)} · sauti demo</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 720px; margin: 40px auto; padding: 0 16px; color: #1f2328; }}
h1 {{ font-size: 22px; color: #1f4e79; }}
form {{ border: 1px solid #d0d7de; border-radius: 8px; padding: 16px; }}
button {{ margin-top: 12px; padding: 6px 18px; font-size: 15px; }}
audio {{ width: 100%; margin-top: 8px; }}
.error {{ background: #fff4e5; border: 1px dashed #d4a14a; padding: 10px; border-radius: 6px; color: #7a4b00; }}
.prediction {{ font-size: 20px; }}
table {{ width: 100%; border-collapse: collapse; }}
td, th {{ padding: 4px 8px; text-align: left; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; width: 4em; }}
td.track {{ width: 70%; background: #f6f8fa; }}
.bar {{ height: 18px; background: #1f4e79; border-radius: 3px; }}
#timeline {{ position: relative; height: 34px; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; margin: 8px 0 4px; }}
#timeline .segment {{ position: absolute; top: 3px; bottom: 3px; border-radius: 3px; color: #fff; font-size: 12px; overflow: hidden; white-space: nowrap; text-align: center; cursor: pointer; }}
.axis {{ display: flex; justify-content: space-between; color: #656d76; font-size: 12px; }}
.legend span {{ display: inline-block; margin-right: 12px; font-size: 13px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }}
.note {{ color: #656d76; font-size: 13px; }}
</style></head>
<body>
<h1>{esc(name)}</h1>
<p>Predicts {what} from a recording.</p>
<form method="post" action="/predict" enctype="multipart/form-data">
<input type="file" id="{FIELD}" name="{FIELD}" accept=".wav,.flac,.ogg,audio/*">
<button type="button" id="record">&#9679; Record</button> <span id="record-status" class="note"></span>
<audio id="player" controls hidden></audio>
<br><button type="submit" id="submit">Predict</button>
</form>
{"".join(parts)}
<p class="note">sauti demo · runs on this computer only ({HOST}); recordings longer than {TIMELINE_FROM_S:g} s are also predicted per speech segment.</p>
<script>{RECORDER_JS}</script>
</body></html>
"""


def _shown(prediction) -> str:
    return f"{prediction:.3f}" if isinstance(prediction, float) else str(prediction)


def _timeline(result: dict, labels: list[str]) -> str:
    """Coloured blocks at each segment's place in the recording, and the same as a table."""
    segments, duration = result.get("segments") or [], result.get("duration") or 0
    if not segments or not duration:
        return ""
    esc = html.escape
    colour = {label: COLOURS[i % len(COLOURS)] for i, label in enumerate(labels)}
    blocks, rows = [], []
    for i, seg in enumerate(segments):
        shown = _shown(seg["prediction"])
        confidence = max(seg["probabilities"].values()) if seg["probabilities"] else None
        tip = f"{seg['start']:.2f}-{seg['end']:.2f} s: {shown}" + (
            f" ({confidence:.2f})" if confidence is not None else ""
        )
        blocks.append(
            f'<div class="segment" id="segment-{i}" data-start="{seg["start"]}" data-end="{seg["end"]}"'
            f' data-prediction="{esc(shown)}" title="{esc(tip)}"'
            f' style="left:{100 * seg["start"] / duration:.2f}%;width:{100 * (seg["end"] - seg["start"]) / duration:.2f}%;'
            f'background:{colour.get(shown, COLOURS[0])}">{esc(shown)}</div>'
        )
        rows.append(
            f"<tr><td>{seg['start']:.2f}</td><td>{seg['end']:.2f}</td><td>{esc(shown)}</td>"
            f'<td class="num">{"" if confidence is None else f"{confidence:.2f}"}</td></tr>'
        )
    legend = "".join(
        f'<span><i style="background:{c}"></i>{esc(k)}</span>' for k, c in colour.items()
    )
    return (
        f'<h2 style="font-size:17px">Timeline: {len(segments)} speech segments</h2>'
        f'<div id="timeline">{"".join(blocks)}</div>'
        f'<div class="axis"><span>0 s</span><span>{duration:.1f} s</span></div>'
        f'<p class="legend">{legend}</p>'
        '<table id="segments"><thead><tr><th>from (s)</th><th>to (s)</th><th>prediction</th>'
        f'<th class="num">p</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


#: The recorder and players. PCM capture (ScriptProcessor; AudioWorklet needs a module file)
#: packed as 16-bit WAV, handed to the form's file input so the one upload path serves both.
RECORDER_JS = """
(() => {
  const input = document.getElementById("audio"), player = document.getElementById("player");
  const button = document.getElementById("record"), status = document.getElementById("record-status");
  input.addEventListener("change", () => {
    if (input.files.length) { player.src = URL.createObjectURL(input.files[0]); player.hidden = false; }
  });
  document.querySelectorAll("#timeline .segment").forEach((block) => block.addEventListener("click", () => {
    const upload = document.getElementById("upload-player");
    upload.currentTime = parseFloat(block.dataset.start); upload.play();
  }));
  if (!(navigator.mediaDevices && window.AudioContext)) {
    button.disabled = true; status.textContent = "this browser gives no microphone access here"; return;
  }
  let context = null, source, processor, stream, chunks;
  button.addEventListener("click", async () => {
    if (!context) {
      try { stream = await navigator.mediaDevices.getUserMedia({audio: true}); }
      catch (err) { status.textContent = "no microphone: " + err.message; return; }
      context = new AudioContext();
      source = context.createMediaStreamSource(stream);
      processor = context.createScriptProcessor(4096, 1, 1);
      chunks = [];
      processor.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
      source.connect(processor); processor.connect(context.destination);
      button.textContent = "\\u25A0 Stop"; status.textContent = "recording...";
      return;
    }
    processor.disconnect(); source.disconnect(); stream.getTracks().forEach((t) => t.stop());
    const rate = context.sampleRate, wav = encodeWav(chunks, rate);
    await context.close(); context = null;
    const files = new DataTransfer();
    files.items.add(new File([wav], "recording.wav", {type: "audio/wav"}));
    input.files = files.files; input.dispatchEvent(new Event("change"));
    const seconds = chunks.reduce((n, c) => n + c.length, 0) / rate;
    button.textContent = "\\u25CF Record"; status.textContent = seconds.toFixed(1) + " s recorded: press Predict";
  });
  function encodeWav(chunks, rate) {
    const n = chunks.reduce((total, c) => total + c.length, 0), view = new DataView(new ArrayBuffer(44 + 2 * n));
    const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE"); text(12, "fmt ");
    view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * n, true);
    let at = 44;
    for (const c of chunks) for (const v of c) { view.setInt16(at, Math.max(-1, Math.min(1, v)) * 32767, true); at += 2; }
    return new Blob([view], {type: "audio/wav"});
  }
})();
"""


def serve(bundle: dict, name: str, port: int = 8765) -> None:
    """Serve the page until Ctrl-C."""
    server = DemoServer(bundle, name, port)
    print(f"sauti demo: {name} on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
