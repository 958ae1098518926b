#!/usr/bin/env bash
# Build a corpus of spoken sentences for the SSL speaker-embedding benchmark.
#
#   resources/demo/build_sentence_corpus.sh OUTDIR
#
# Why: the demo corpus is single words (digits), and two segments of one word share its
# content, so self-supervised speaker training on it learns the words as much as the voices
# (README, "Self-supervised speaker embeddings"). Sentences vary their content inside one
# utterance, as the speech those methods are made for does.
# Speakers: the demo corpus's 40 espeak-ng voices (English and German, 10 female and 10 male
# variants each, with the demo's per-voice pitch), each reading 8 sentences (Harvard-style,
# German translations for German) at a per-sentence speaking rate; 2 to 4 s per clip.
#
# Writes OUTDIR/wav/*.wav (16 kHz mono 16-bit) and OUTDIR/sentences.csv with the columns
#   file, speaker, gender, language, sentence
# Needs: sox (libsox-fmt-all), espeak-ng. Idempotent: a finished corpus (OUTDIR/.complete) is
# left alone.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_sentence_corpus.sh OUTDIR}")
[ -f "$OUT/.complete" ] && { echo "sentence corpus already built: $OUT"; exit 0; }
for tool in sox espeak-ng; do
  command -v "$tool" >/dev/null || { echo "build_sentence_corpus: '$tool' not found; install: apt-get install sox libsox-fmt-all espeak-ng" >&2; exit 1; }
done
mkdir -p "$OUT/wav"
english=(
  "the quick brown fox jumps over the lazy dog"
  "please call stella and ask her to bring these things"
  "we also need a small plastic snake and a big toy frog"
  "she can scoop these things into three red bags"
  "the birch canoe slid on the smooth planks"
  "glue the sheet to the dark blue background"
  "it is easy to tell the depth of a well"
  "these days a chicken leg is a rare dish"
)
german=(
  "der schnelle braune fuchs springt über den faulen hund"
  "bitte ruf stella an und frag sie ob sie kommt"
  "wir brauchen auch eine kleine schlange aus plastik"
  "sie kann die dinge in drei rote taschen packen"
  "das kanu glitt über die glatten planken"
  "klebe das blatt auf den dunkelblauen hintergrund"
  "es ist leicht die tiefe eines brunnens zu sehen"
  "heute ist ein hühnerbein ein seltenes gericht"
)
females="f1 f2 f3 f4 f5 Annie linda steph anika belinda"
males="m1 m2 m3 m4 m5 m6 m7 adam david edward"
CSV="$OUT/.sentences.csv"
echo "file,speaker,gender,language,sentence" >"$CSV"
n=0
for lang in en-us de; do
  for variant in $females $males; do
    case " $females " in *" $variant "*) gender=female ;; *) gender=male ;; esac
    n=$((n + 1)); speaker="espeak_${lang}_$variant"
    pitch=$(( 35 + (n * 7) % 30 ))  # the demo corpus's pitch for this voice
    for i in 0 1 2 3 4 5 6 7; do
      if [ "$lang" = de ]; then text="${german[$i]}"; else text="${english[$i]}"; fi
      rate=$(( 130 + ((n * 13 + i * 29) % 80) ))
      espeak-ng -v "$lang+$variant" -p "$pitch" -s "$rate" -w "$OUT/wav/.tts.wav" "$text"
      # gain -1: espeak's loudest peaks clip when resampled
      sox -R -q "$OUT/wav/.tts.wav" -r 16000 -c 1 -b 16 "$OUT/wav/${speaker}_s$i.wav" gain -1
      echo "wav/${speaker}_s$i.wav,$speaker,$gender,${lang%%-*},s$i" >>"$CSV"
    done
  done
done
rm -f "$OUT/wav/.tts.wav"
mv "$CSV" "$OUT/sentences.csv"
touch "$OUT/.complete"
echo "sentence corpus: $(($(wc -l <"$OUT/sentences.csv") - 1)) clips in $OUT"
