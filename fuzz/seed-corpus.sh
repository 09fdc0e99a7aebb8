#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the fixtures (files under 64 KB) and from code.
# Safe to rerun: files are added, never removed (libFuzzer names corpus entries by hash).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../fixtures"
corpus="$here/corpus"
mkdir -p "$corpus"/{capture_reader,wire_decode,peer_wire,analyze}

mapfile -t small < <(find "$fixtures" -type f -size -64k \
    ! -name '*.md' ! -name '*.tsv' ! -name '*.sh' ! -name '*.txt' ! -name '*.json' | sort)
for f in "${small[@]}"; do
    # Name by content, so the same capture under two names is one seed.
    h=$(sha1sum "$f" | cut -c1-40)
    cp "$f" "$corpus/capture_reader/$h"
    cp "$f" "$corpus/analyze/$h"
done
echo "capture_reader, analyze: ${#small[@]} fixture files"

python3 "$here/seeds.py" frames "$corpus/wire_decode" "${small[@]}"
python3 "$here/seeds.py" peer-wire "$corpus/peer_wire"
