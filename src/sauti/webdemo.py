"""`sauti demo --serve`: a tiny local web page to upload a recording and see the prediction.

Why the standard library (http.server) and no web framework: the page has one form and one
result, it must work in the light base install, and it listens on 127.0.0.1 only, for the user
at this machine. The page is self-contained (inline CSS, no scripts, nothing from the network).
Each upload is written to a temporary file, checked as audio, and predicted with
sauti.inference.predict, i.e. exactly the pipeline `sauti demo --file` uses.
"""

from __future__ import annotations

import html
import logging
import tempfile
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .errors import SautiError

log = logging.getLogger("sauti.webdemo")

HOST = "127.0.0.1"
MAX_UPLOAD = 50 * 1024 * 1024  # bytes; a minute of 16-bit 48 kHz stereo is about 11 MB
FIELD = "audio"


class DemoServer(ThreadingHTTPServer):
    """An HTTP server that holds one bundle; predictions run one at a time (lock)."""

    daemon_threads = True

    def __init__(self, bundle: dict, name: str, port: int = 0):
        self.bundle, self.name = bundle, name
        self.lock = threading.Lock()
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

    def predict_upload(self, filename: str, payload: bytes) -> dict:
        """{"file", "prediction", "probabilities": {label: p}} or a SautiError for the user."""
        from . import audio
        from .inference import predict

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
            with self.lock:
                table = predict(self.bundle, [str(path)])
        row = table.iloc[0]
        probabilities = {
            label: float(row[f"proba_{label}"])
            for label in self.bundle["labels"] or []
            if f"proba_{label}" in table.columns
        }
        return {"file": filename, "prediction": row["prediction"], "probabilities": probabilities}


class DemoHandler(BaseHTTPRequestHandler):
    server: DemoServer

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] in ("/", "/index.html"):
            self._send(HTTPStatus.OK, page(self.server.name, self.server.bundle))
        else:
            self._send(
                HTTPStatus.NOT_FOUND, page(self.server.name, self.server.bundle, error="not found")
            )

    def do_POST(self):  # noqa: N802
        bundle, name = self.server.bundle, self.server.name
        try:
            filename, payload = self._read_upload()
            result = self.server.predict_upload(filename, payload)
        except SautiError as err:
            self._send(HTTPStatus.BAD_REQUEST, page(name, bundle, error=str(err)))
            return
        except Exception as exc:  # a bug must not kill the server; show it, log it
            log.exception("prediction failed")
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR, page(name, bundle, error=f"internal error: {exc}")
            )
            return
        self._send(HTTPStatus.OK, page(name, bundle, result=result))

    def _read_upload(self) -> tuple[str, bytes]:
        """(filename, bytes) of the form's audio field, parsed with the email package."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_UPLOAD:
            raise SautiError(f"the upload is larger than {MAX_UPLOAD // 2**20} MB")
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise SautiError("send the file with the form on this page")
        body = self.rfile.read(length)
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == FIELD:
                return part.get_filename() or "", part.get_payload(decode=True) or b""
        raise SautiError("choose an audio file (wav, flac or ogg) first")

    def _send(self, status: HTTPStatus, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        log.info("%s %s", self.address_string(), format % args)


def page(name: str, bundle: dict, result: dict | None = None, error: str | None = None) -> str:
    """The whole page: the upload form, then the result (a bar per class) or the error."""
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
        prediction = result["prediction"]
        shown = f"{prediction:.3f}" if isinstance(prediction, float) else str(prediction)
        parts.append(
            f'<section id="result"><p>File: <span id="filename">{esc(result["file"])}</span></p>'
            f'<p class="prediction">Prediction: <strong id="prediction">{esc(shown)}</strong></p>'
            + (f'<table id="probabilities">{rows}</table>' if rows else "")
            + "</section>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(name)} · sauti demo</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 640px; margin: 40px auto; padding: 0 16px; color: #1f2328; }}
h1 {{ font-size: 22px; color: #1f4e79; }}
form {{ border: 1px solid #d0d7de; border-radius: 8px; padding: 16px; }}
button {{ margin-top: 12px; padding: 6px 18px; font-size: 15px; }}
.error {{ background: #fff4e5; border: 1px dashed #d4a14a; padding: 10px; border-radius: 6px; color: #7a4b00; }}
.prediction {{ font-size: 20px; }}
table {{ width: 100%; border-collapse: collapse; }}
td {{ padding: 4px 8px; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; width: 4em; }}
td.track {{ width: 70%; background: #f6f8fa; }}
.bar {{ height: 18px; background: #1f4e79; border-radius: 3px; }}
.note {{ color: #656d76; font-size: 13px; }}
</style></head>
<body>
<h1>{esc(name)}</h1>
<p>Predicts {what} from a recording.</p>
<form method="post" action="/predict" enctype="multipart/form-data">
<input type="file" id="{FIELD}" name="{FIELD}" accept=".wav,.flac,.ogg,audio/*">
<br><button type="submit" id="submit">Predict</button>
</form>
{"".join(parts)}
<p class="note">sauti demo · runs on this computer only ({HOST}); the whole file is one sample.</p>
</body></html>
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
