#!/usr/bin/env bash
# Build the voice/background separation corpus (SEPARATE, README "Voice/background separation").
#
#   resources/demo/build_separation_corpus.sh OUTDIR
#
# Voices: the demo corpus's real speakers (telephone prompts, Mandarin syllables, codec2
#   sentences; SAUTI_DEMO_DIR or built into OUTDIR/.demo) and the spoken-sentence corpus
#   (espeak-ng voices; built into OUTDIR/.sentences).
# Backgrounds: real game music from Debian (pingus-data: 21 tracker pieces rendered with
#   openmpt123; frozen-bubble-data: 3 ogg pieces), the first 60 s of each, plus pink, brown and
#   white noise (made by sauti.ml.separation_corpus, seeded).
# Mixtures: sauti.ml.separation_corpus (seeded): 4-s clips at SNRs drawn from -5 to 10 dB; speakers
#   and background pieces are disjoint between train, unlabelled and test. Train and test rows
#   keep their clean voice and background tracks (mixture = voice + background); unlabelled rows
#   are mixtures only, so training never sees their clean tracks.
#
# Writes OUTDIR/separation.csv (file, voice, background, speaker, gender, language, piece,
#   snr_db, split; paths relative to the CSV) and OUTDIR/{mix,voice,background}/*.wav (16 kHz).
# Needs: apt-get (download only), dpkg-deb, sox with libsox-fmt-all, espeak-ng, openmpt123, and
#   a python with sauti installed (SAUTI_PYTHON, default .venv/bin/python or python3).
# Idempotent: a finished corpus (OUTDIR/.complete) is left alone. Licences: GPL (pingus-data,
#   frozen-bubble-data) and those of the demo corpus: build it locally, never commit it.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_separation_corpus.sh OUTDIR}")
[ -f "$OUT/.complete" ] && { echo "separation corpus already built: $OUT"; exit 0; }
HERE=$(dirname "$(realpath "$0")")
REPO=$(realpath "$HERE/../..")
PY=${SAUTI_PYTHON:-$([ -x "$REPO/.venv/bin/python" ] && echo "$REPO/.venv/bin/python" || echo python3)}
for tool in sox openmpt123 apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build_separation_corpus: '$tool' not found; install: apt-get install sox libsox-fmt-all espeak-ng openmpt123" >&2; exit 1; }
done
DEMO=${SAUTI_DEMO_DIR:-$OUT/.demo}
DEMO=$(realpath -m "$DEMO")
[ -f "$DEMO/.complete" ] || bash "$HERE/build_demo_corpus.sh" "$DEMO" --no-synthetic
bash "$HERE/build_sentence_corpus.sh" "$OUT/.sentences"

DEB=${SAUTI_DEB_CACHE:-$OUT/.debs}
mkdir -p "$DEB" "$OUT/.music"
(cd "$DEB" && for p in pingus-data frozen-bubble-data; do ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" >/dev/null; done) || {
  echo "build_separation_corpus: apt-get download failed; run 'apt-get update' once (as root) and retry" >&2; exit 1; }
for p in pingus-data frozen-bubble-data; do
  [ -d "$DEB/x/$p" ] || { mkdir -p "$DEB/x/$p" && dpkg-deb -x "$DEB/${p}"_*.deb "$DEB/x/$p"; }
done

# background pieces: OUTDIR/.music/<piece>.wav, 16 kHz mono, at most 60 s each
music="$DEB/x/pingus-data/usr/share/games/pingus/data/music"
tmp=$(mktemp -d "$OUT/.render.XXXX")
trap 'rm -rf "$tmp"' EXIT
for f in "$music"/*.it "$music"/*.s3m; do
  name=$(basename "${f%.*}")
  [ -f "$OUT/.music/pingus_$name.wav" ] && continue
  cp "$f" "$tmp/"
  openmpt123 --quiet --render --force --samplerate 16000 --channels 1 --no-float --end-time 60 "$tmp/$(basename "$f")" >/dev/null
  sox -q -R "$tmp/$(basename "$f").wav" -b 16 "$OUT/.music/pingus_$name.wav"
done
for f in "$DEB"/x/frozen-bubble-data/usr/share/games/frozen-bubble/snd/*zik*.ogg; do
  name=$(basename "${f%.ogg}")
  [ -f "$OUT/.music/frozenbubble_$name.wav" ] || sox -q -R "$f" -r 16000 -c 1 -b 16 "$OUT/.music/frozenbubble_$name.wav" trim 0 60
done
"$PY" -m sauti.ml.separation_corpus "$OUT" --demo "$DEMO" --sentences "$OUT/.sentences" --music "$OUT/.music"
touch "$OUT/.complete"
echo "separation corpus: $(($(wc -l <"$OUT/separation.csv") - 1)) mixtures in $OUT"
