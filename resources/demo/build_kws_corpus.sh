#!/usr/bin/env bash
# Build sauti's keyword-spotting corpus (the speech-commands task in small) from the demo corpus
# and espeak-ng voices.
#
#   resources/demo/build_kws_corpus.sh OUTDIR [DEMO_DIR]     (DEMO_DIR default: data/demo)
#
# Classes (column `command`): the keywords one two three four five, `_unknown_` (words outside
# the list) and `_silence_` (1 s clips of background noise), as in Warden's Speech Commands.
#   - real speech: the asterisk digit prompts of the demo corpus (DEMO_DIR, built first when
#     missing): allison (English) says the keywords and six..zero (unknown); the French,
#     Italian, Russian and Spanish speakers' digits are words outside the list (unknown);
#   - synthetic speech: 48 espeak-ng "speakers" (8 English accents x 6 voice variants, each
#     with its own pitch), each saying the five keywords and three unknown words (drawn per
#     speaker from six..zero, yes, no, stop, go, left, right), at a per-clip speaking rate;
#   - silence: 4 clips from each of 12 noise recordings (white/pink/brown noise, mains hum and
#     their mixes at several levels), the recording being the clip's "speaker".
# OUTDIR/noise/ holds 4 other noise recordings (different colours and seeds, 10 s each) for
# MODEL.noise_dir: augmentation noise is never the noise of the _silence_ test clips.
#
# Writes OUTDIR/wav/*.wav (16 kHz mono 16-bit) and OUTDIR/kws.csv with the columns
#   file, speaker, gender, word, command, source
# Needs: sox (libsox-fmt-all), espeak-ng. sox runs with -R, so the build is repeatable.
# Idempotent: a finished corpus (OUTDIR/.complete) is left alone.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:?usage: build_kws_corpus.sh OUTDIR [DEMO_DIR]}")
DEMO=$(realpath -m "${2:-data/demo}")
[ -f "$OUT/.complete" ] && { echo "kws corpus already built: $OUT"; exit 0; }
for tool in sox espeak-ng; do
  command -v "$tool" >/dev/null || { echo "build_kws_corpus: '$tool' not found; install: apt-get install sox libsox-fmt-all espeak-ng" >&2; exit 1; }
done
[ -f "$DEMO/.complete" ] || bash "$HERE/build_demo_corpus.sh" "$DEMO"
mkdir -p "$OUT/wav" "$OUT/noise"
TMPCSV=$(mktemp "$OUT/.kws.csv.XXXX")
trap 'rm -f "$TMPCSV" "$OUT/wav/.tts.wav"' EXIT
echo "file,speaker,gender,word,command,source" > "$TMPCSV"

KEYWORDS="one two three four five"
label() { case " $KEYWORDS " in *" $1 "*) echo "$1" ;; *) echo "_unknown_" ;; esac; }
add() { # src name speaker gender word command source
  sox -q -R "$1" -r 16000 -c 1 -b 16 "$OUT/wav/$2.wav"
  echo "wav/$2.wav,$3,$4,$5,$6,$7" >> "$TMPCSV"
}

# real speech: digit d of the demo corpus -> its English word for allison, unknown otherwise
words=(zero one two three four five six seven eight nine)
while IFS=, read -r speaker gender; do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    if [ "$speaker" = allison ]; then word=${words[$d]}; cmd=$(label "$word"); else word="${speaker}_digit$d"; cmd=_unknown_; fi
    add "$DEMO/wav/${speaker}_digit$d.wav" "real_${speaker}_$d" "$speaker" "$gender" "$word" "$cmd" real
  done
done <<'LIST'
allison,female
june,female
carlo,male
ivrvoiceru,female
menardi,female
july,female
armelle,female
LIST

# synthetic speech: 8 accents x 6 variants; every speaker: the keywords + 3 unknown words
unknown=(six seven eight nine zero yes no stop go left right)
n=0
for accent in en-us en-gb en-gb-scotland en-gb-x-rp en-029 en-gb-x-gbclan en-gb-x-gbcwmd en-us-nyc; do
  for variant in f1 f2 f4 m1 m3 m6; do
    n=$((n + 1)); speaker="espeak_${accent}_$variant"
    case $variant in f*) gender=female ;; *) gender=male ;; esac
    pitch=$(( 30 + (n * 11) % 40 ))
    extra="${unknown[$(( n % 11 ))]} ${unknown[$(( (n * 3 + 1) % 11 ))]} ${unknown[$(( (n * 7 + 5) % 11 ))]}"
    i=0
    for word in $KEYWORDS $extra; do
      i=$((i + 1)); rate=$(( 120 + ((n * 17 + i * 31) % 110) ))
      espeak-ng -v "$accent+$variant" -p "$pitch" -s "$rate" -w "$OUT/wav/.tts.wav" "$word"
      add "$OUT/wav/.tts.wav" "${speaker}_${i}_$word" "$speaker" "$gender" "$word" "$(label "$word")" espeak
    done
  done
done

# noise recordings: 12 for the _silence_ clips, 4 others for augmentation (MODEL.noise_dir)
noise() { # out seconds sox-synth-args... (sox -R: repeatable)
  local out=$1 secs=$2; shift 2
  sox -q -R -n -r 16000 -c 1 -b 16 "$out" synth "$secs" "$@"
}
i=0
for spec in "whitenoise vol 0.02" "pinknoise vol 0.05" "brownnoise vol 0.1" "pinknoise vol 0.005" \
            "sine 50 sine 100 sine 150 vol 0.02" "whitenoise vol 0.002" "brownnoise vol 0.3" \
            "pinknoise vol 0.2" "sine 60 sine 120 vol 0.05" "whitenoise vol 0.08" \
            "brownnoise vol 0.02" "pinknoise vol 0.02 tremolo 3 60"; do
  i=$((i + 1)); src="$OUT/wav/.noise$i.wav"
  # shellcheck disable=SC2086  # the synth spec is a word list on purpose
  noise "$src" 4 ${spec%% vol*} gain -n -1 vol ${spec##*vol }
  for k in 0 1 2 3; do
    sox -q -R "$src" "$OUT/wav/silence_${i}_$k.wav" trim "$k" 1
    echo "wav/silence_${i}_$k.wav,noise_$i,,_silence_,_silence_,noise" >> "$TMPCSV"
  done
  rm -f "$src"
done
noise "$OUT/noise/white.wav" 10 whitenoise vol 0.05
noise "$OUT/noise/pink.wav" 10 pinknoise vol 0.1
noise "$OUT/noise/brown.wav" 10 brownnoise vol 0.2
noise "$OUT/noise/hum.wav" 10 sine 50 sine 100 sine 150 sine 200 vol 0.05

mv "$TMPCSV" "$OUT/kws.csv"
trap - EXIT
touch "$OUT/.complete"
echo "kws corpus: $(($(wc -l < "$OUT/kws.csv") - 1)) clips in $OUT ($(cut -d, -f5 "$OUT/kws.csv" | tail -n +2 | sort | uniq -c | tr -s ' ' | tr '\n' ';'))"
