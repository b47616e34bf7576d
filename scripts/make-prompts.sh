#!/usr/bin/env bash
# Generates the voice prompts and the hold music:
#   prompts/<lang>/<id>.txt  ->  prompts/<lang>/<id>.wav   (espeak-ng, then sox)
#   prompts/moh.wav                                        (sox: a soft chord loop)
# Output format is what hotline's PromptCache requires: 8000 Hz, mono,
# 16-bit signed PCM WAV. The WAVs are committed, so users of hotline need
# neither espeak-ng nor sox; re-run this after editing a .txt.
#
# Usage: scripts/make-prompts.sh [PROMPTS_DIR]   (default: prompts/ of the repo)
#   FORCE=1 regenerates WAVs that are newer than their .txt.
# Needs: espeak-ng and sox (Debian/Ubuntu: apt-get install espeak-ng sox).
#
# Dithering is off (-D) so the same text gives byte-identical files and the
# repository does not churn.
set -euo pipefail

root="${1:-$(cd "$(dirname "$0")/.." && pwd)/prompts}"
mkdir -p "$root"

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make-prompts: $tool not found (apt-get install espeak-ng sox)" >&2
        exit 1
    fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# espeak-ng voice for a prompt directory name.
voice_for() {
    case "$1" in
        en) echo "en-us" ;;
        *) echo "$1" ;;
    esac
}

# Telephone-band clean-up: cut rumble and hiss, normalise to -3 dBFS,
# resample to 8 kHz mono 16-bit, add 150 ms of silence at the end so
# consecutive prompts do not run into each other.
to_phone_wav() {
    sox -D -V1 "$1" -r 8000 -c 1 -b 16 -e signed-integer "$2" \
        highpass 100 lowpass 3400 norm -3 pad 0 0.15
}

count=0
shopt -s nullglob
for txt in "$root"/*/*.txt; do
    lang="$(basename "$(dirname "$txt")")"
    wav="${txt%.txt}.wav"
    if [[ -z "${FORCE:-}" && -e "$wav" && "$wav" -nt "$txt" ]]; then
        continue
    fi
    voice="$(voice_for "$lang")"
    # -s 150 words/min: slower than the default 175, easier over a phone line.
    espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" -f "$txt"
    to_phone_wav "$tmp/raw.wav" "$wav"
    echo "make-prompts: $wav"
    count=$((count + 1))
done

# Hold music: C - Am - F - G - Dm - G, 4 s per chord (24 s loop that ends
# on the dominant so it resolves when it wraps). Sine pads with slow attack
# and release, a little tremolo and reverb; everything below 600 Hz so it can
# never look like a DTMF tone to the in-band detector.
moh="$root/moh.wav"
if [[ -n "${FORCE:-}" || ! -e "$moh" ]]; then
    chords=(
        "130.81 261.63 329.63 392.00" # C
        "110.00 220.00 261.63 329.63" # Am
        "87.31 174.61 220.00 261.63"  # F
        "98.00 196.00 246.94 293.66"  # G
        "73.42 146.83 174.61 220.00"  # Dm
        "98.00 196.00 246.94 293.66"  # G
    )
    parts=()
    i=0
    for chord in "${chords[@]}"; do
        read -r bass n1 n2 n3 <<<"$chord"
        part="$tmp/chord$i.wav"
        sox -D -V1 -n -r 8000 -c 4 -b 16 -e signed-integer "$part" \
            synth 4 sine "$bass" sine "$n1" sine "$n2" sine "$n3" \
            remix - tremolo 4 15 fade q 0.8 4 1.2 reverb 40 norm -12
        parts+=("$part")
        i=$((i + 1))
    done
    sox -D -V1 "${parts[@]}" -r 8000 -c 1 -b 16 -e signed-integer "$moh"
    echo "make-prompts: $moh"
    count=$((count + 1))
fi

echo "make-prompts: $count file(s) written under $root"
