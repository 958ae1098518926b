#!/usr/bin/env bash
# Build sauti's demo corpus: real speech from Debian packages plus an espeak-ng synthetic part.
#
#   resources/demo/build_demo_corpus.sh OUTDIR [--no-synthetic]
#
# Writes OUTDIR/wav/*.wav (16 kHz mono 16-bit) and OUTDIR/demo.csv with the columns
#   file, speaker, gender, language, word, source, rate
# (file relative to the CSV; rate = espeak words per minute, empty for real speech).
#
# Real part (Debian main; licences CC-BY-SA-3.0/CC-BY-3.0 (asterisk), GPL-3 (gcin-voice),
# LGPL-2.1 (codec2-examples), so the corpus is built on the user's machine, never committed):
#   digits 0-9 from 7 telephone-prompt speakers, 20 Mandarin syllables read by a man and a woman,
#   the codec2 reference sentences (original and 2400 bit/s versions of the same speakers).
# Synthetic part: digits 0-9 spoken by 20 espeak-ng voice variants (10 male, 10 female) in
#   English and German, each "speaker" with its own pitch and a per-clip speaking rate.
#
# Needs: apt-get (download only, no root), dpkg-deb, sox with libsox-fmt-all, espeak-ng.
# sox runs with -R (repeatable dither), so every build is bit-identical.
# Idempotent: a finished corpus (OUTDIR/.complete) is left alone.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_demo_corpus.sh OUTDIR [--no-synthetic]}")
SYNTH=1; [ "${2:-}" = "--no-synthetic" ] && SYNTH=0
[ -f "$OUT/.complete" ] && { echo "demo corpus already built: $OUT"; exit 0; }
for tool in sox espeak-ng apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build_demo_corpus: '$tool' not found; install: apt-get install sox libsox-fmt-all espeak-ng" >&2; exit 1; }
done
DEB=${SAUTI_DEB_CACHE:-$OUT/.debs}
mkdir -p "$OUT/wav" "$DEB"
TMPCSV=$(mktemp "$OUT/.demo.csv.XXXX")
trap 'rm -f "$TMPCSV"' EXIT
echo "file,speaker,gender,language,word,source,rate" > "$TMPCSV"

packages="asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav
  asterisk-core-sounds-ru-wav asterisk-prompt-it-menardi-wav asterisk-prompt-es-co
  asterisk-prompt-fr-armelle gcin-voice codec2-examples"
(cd "$DEB" && for p in $packages; do ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" >/dev/null; done) || {
  echo "build_demo_corpus: apt-get download failed; run 'apt-get update' once (as root) and retry" >&2; exit 1; }
for deb in "$DEB"/*.deb; do
  name=$(basename "${deb%%_*}"); [ -d "$DEB/x/$name" ] || { mkdir -p "$DEB/x/$name" && dpkg-deb -x "$deb" "$DEB/x/$name"; }
done

# convert SRC to OUT/wav/NAME.wav and append a row
add() { # src name speaker gender language word source rate
  sox -q -R "$1" -r 16000 -c 1 -b 16 "$OUT/wav/$2.wav"
  echo "wav/$2.wav,$3,$4,$5,$6,$7,$8" >> "$TMPCSV"
}

snd=usr/share/asterisk/sounds
while read -r pkg dir speaker gender lang ext; do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    add "$DEB/x/$pkg/$snd/$dir/digits/$d.$ext" "${speaker}_digit$d" "$speaker" "$gender" "$lang" "digit$d" real ""
  done
done <<'LIST'
asterisk-core-sounds-en-wav en_US_f_Allison allison female en wav
asterisk-core-sounds-fr-wav fr_CA_f_June june female fr wav
asterisk-core-sounds-it-wav it_IT_m_Carlo carlo male it wav
asterisk-core-sounds-ru-wav ru_RU_f_IvrvoiceRU ivrvoiceru female ru wav
asterisk-prompt-it-menardi-wav it_IT_f_Menardi menardi female it wav
asterisk-prompt-es-co es july female es gsm
asterisk-prompt-fr-armelle fr armelle female fr gsm
LIST

# gcin-voice: the same Mandarin syllables by a male (3.ogg) and a female (5.ogg) reader
ogg="$DEB/x/gcin-voice/usr/share/gcin-voice/ogg"
i=0
for syl in $(ls "$ogg"); do
  [ -f "$ogg/$syl/3.ogg" ] && [ -f "$ogg/$syl/5.ogg" ] || continue
  i=$((i + 1)); [ "$i" -le 20 ] || break
  add "$ogg/$syl/3.ogg" "gcin_m_syl$i" gcin_m male zh "syl$i" real ""
  add "$ogg/$syl/5.ogg" "gcin_f_syl$i" gcin_f female zh "syl$i" real ""
done

# codec2 reference sentences: f*/m* are one female and one male speaker (original + coded)
c2="$DEB/x/codec2-examples/usr/share/codec2/wav"
for entry in forig:codec2_f:female f2400:codec2_f:female morig:codec2_m:male m2400:codec2_m:male \
             hts1a:codec2_hts1:male hts2a:codec2_hts2:female mmt1:codec2_mmt:male; do
  IFS=: read -r stem speaker gender <<<"$entry"
  add "$c2/$stem.wav" "${speaker}_$stem" "$speaker" "$gender" en sentence real ""
done

if [ "$SYNTH" = 1 ]; then
  females="f1 f2 f3 f4 f5 Annie linda steph anika belinda"
  males="m1 m2 m3 m4 m5 m6 m7 adam david edward"
  n=0
  for lang in en-us de; do
    for variant in $females $males; do
      case " $females " in *" $variant "*) gender=female ;; *) gender=male ;; esac
      n=$((n + 1)); speaker="espeak_${lang}_$variant"
      pitch=$(( 35 + (n * 7) % 30 ))
      for d in 0 1 2 3 4 5 6 7 8 9; do
        rate=$(( 110 + ((n * 13 + d * 29) % 120) ))
        espeak-ng -v "$lang+$variant" -p "$pitch" -s "$rate" -w "$OUT/wav/.tts.wav" "$d"
        add "$OUT/wav/.tts.wav" "${speaker}_digit$d" "$speaker" "$gender" "${lang%%-*}" "digit$d" espeak "$rate"
      done
    done
  done
  rm -f "$OUT/wav/.tts.wav"
fi

mv "$TMPCSV" "$OUT/demo.csv"
trap - EXIT
touch "$OUT/.complete"
echo "demo corpus: $(($(wc -l < "$OUT/demo.csv") - 1)) files, $(du -sh --exclude=.debs "$OUT" | cut -f1) in $OUT"
