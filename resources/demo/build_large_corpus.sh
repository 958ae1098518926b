#!/usr/bin/env bash
# Build a larger labelled speech corpus (~2,600 files) for benchmarks, from Debian packages.
#
#   resources/demo/build_large_corpus.sh OUTDIR        (e.g. data/large; never commit audio)
#
# Writes OUTDIR/wav/*.wav (16 kHz mono 16-bit) and OUTDIR/large.csv with the columns
#   file, speaker, gender, language, word, source
# Real speech: the telephone prompts of the five asterisk-core-sounds-*-wav voices (Allison in
#   US English and Mexican Spanish, June in Canadian French, Carlo in Italian, the Russian
#   IVR voice): every digit, letter and NATO-alphabet clip plus the first 150 prompts of each,
#   about 1,800 recordings (CC-BY-SA-3.0: built on your machine, never committed).
# Synthetic speech: 20 words from each of 40 espeak-ng voice variants (10 female and 10 male,
#   English and German), with per-speaker pitch and per-clip speaking rate.
# Needs: apt-get (download only), dpkg-deb, sox with libsox-fmt-all, espeak-ng.
# SAUTI_DEB_CACHE: folder for the downloaded .deb files (default OUTDIR/.debs; the demo corpus
# keeps its own in data/demo/.debs, which the Makefile passes to save the download).
# Idempotent: a finished corpus (OUTDIR/.complete) is left alone.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_large_corpus.sh OUTDIR}")
[ -f "$OUT/.complete" ] && { echo "large corpus already built: $OUT"; exit 0; }
for tool in sox espeak-ng apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build_large_corpus: '$tool' not found; install: apt-get install sox libsox-fmt-all espeak-ng" >&2; exit 1; }
done
DEB=$(realpath -m "${SAUTI_DEB_CACHE:-$OUT/.debs}")
mkdir -p "$OUT/wav" "$DEB"
TMPCSV=$(mktemp "$OUT/.large.csv.XXXX")
trap 'rm -f "$TMPCSV"' EXIT
echo "file,speaker,gender,language,word,source" >"$TMPCSV"

voices="en:en_US_f_Allison:allison:female es:es_MX_f_Allison:allison:female
  fr:fr_CA_f_June:june:female it:it_IT_m_Carlo:carlo:male ru:ru_RU_f_IvrvoiceRU:ivrvoiceru:female"
for entry in $voices; do
  IFS=: read -r lang dir speaker gender <<<"$entry"
  pkg=asterisk-core-sounds-$lang-wav
  (cd "$DEB" && { ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >/dev/null; }) || {
    echo "build_large_corpus: apt-get download $pkg failed; run 'apt-get update' once (as root) and retry" >&2; exit 1; }
  [ -d "$DEB/x/$pkg" ] || { mkdir -p "$DEB/x/$pkg" && dpkg-deb -x "$DEB/${pkg}"_*.deb "$DEB/x/$pkg"; }
  root="$DEB/x/$pkg/usr/share/asterisk/sounds/$dir"
  # short clips from the sub-folders (digits, letters, phonetic ...) + the first 150 prompts
  { find "$root" -mindepth 2 -name '*.wav' | sort; find "$root" -maxdepth 1 -name '*.wav' | sort | head -150; } |
    while read -r wav; do
      rel=${wav#"$root"/}; word=${rel%.wav}; word=${word//\//_}
      name="${speaker}_${lang}_${word}"
      sox -V1 -q "$wav" -r 16000 -c 1 -b 16 "$OUT/wav/$name.wav"
      echo "wav/$name.wav,$speaker,$gender,$lang,$word,real" >>"$TMPCSV"
    done
done

females="f1 f2 f3 f4 f5 Annie linda steph anika belinda"
males="m1 m2 m3 m4 m5 m6 m7 adam david edward"
en_words="hello yes no stop start left right up down open close morning evening water coffee
  music window garden yellow seven"
de_words="hallo ja nein halt los links rechts oben unten auf zu morgen abend wasser kaffee
  musik fenster garten gelb sieben"
n=0
for lang in en-us de; do
  words=$en_words; [ "$lang" = de ] && words=$de_words
  for variant in $females $males; do
    case " $females " in *" $variant "*) gender=female ;; *) gender=male ;; esac
    n=$((n + 1)); speaker="espeak_${lang}_$variant"; pitch=$((30 + (n * 7) % 40)); i=0
    for word in $words; do
      i=$((i + 1)); rate=$((110 + ((n * 13 + i * 29) % 120)))
      espeak-ng -v "$lang+$variant" -p "$pitch" -s "$rate" -w "$OUT/wav/.tts.wav" "$word"
      sox -V1 -q "$OUT/wav/.tts.wav" -r 16000 -c 1 -b 16 "$OUT/wav/${speaker}_$word.wav"
      echo "wav/${speaker}_$word.wav,$speaker,$gender,${lang%%-*},$word,espeak" >>"$TMPCSV"
    done
  done
done
rm -f "$OUT/wav/.tts.wav"

mv "$TMPCSV" "$OUT/large.csv"
trap - EXIT
touch "$OUT/.complete"
echo "large corpus: $(($(wc -l <"$OUT/large.csv") - 1)) files, $(du -sh --exclude=.debs "$OUT" | cut -f1) in $OUT"
