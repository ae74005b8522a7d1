#!/bin/bash
# Regenerates po/porthole.pot from the files in po/POTFILES.in and merges it
# into every translation listed in po/LINGUAS.
# With --check, changes nothing and fails if po/porthole.pot is out of date.
set -eu
cd "$(dirname "$0")/.."
pot=po/porthole.pot
if [ "${1:-}" = "--check" ]; then
  pot=$(mktemp --suffix=.pot)
  trap 'rm -f "$pot"' EXIT
fi
rs=$(grep -v '^#' po/POTFILES.in | grep '\.rs$' || true)
ui=$(grep -v '^#' po/POTFILES.in | grep '\.ui$' || true)
# xgettext has no Rust parser; its C parser reads Rust string literals the
# same way as long as translatable strings avoid backslash line continuations.
# (It warns about Rust lifetimes, which look like unterminated characters.)
xgettext --from-code=UTF-8 --language=C --keyword=gettext --keyword=pgettext:1c,2 \
  --add-comments=Translators: --package-name=porthole \
  --msgid-bugs-address=https://github.com/porthole/porthole/issues \
  --sort-by-file -o "$pot" $rs 2>/dev/null
xgettext --from-code=UTF-8 --language=Glade -j --sort-by-file -o "$pot" $ui 2>/dev/null
if [ "${1:-}" = "--check" ]; then
  # Compare the messages only, not dates or source line numbers.
  if ! diff -u <(msgcat --no-location --sort-output po/porthole.pot | grep -v POT-Creation-Date) \
               <(msgcat --no-location --sort-output "$pot" | grep -v POT-Creation-Date) >&2; then
    echo "po/porthole.pot is out of date: run po/update.sh and translate the new messages" >&2
    exit 1
  fi
  exit 0
fi
for lang in $(grep -v '^#' po/LINGUAS); do
  msgmerge --quiet --update --backup=none --no-fuzzy-matching "po/$lang.po" "$pot"
done
