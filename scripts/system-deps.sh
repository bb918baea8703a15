#!/usr/bin/env bash
# Debian packages the reports need: fonts for WeasyPrint (no network fonts; an emoji font, since comments
# quote emoji), HarfBuzz's subsetter for small PDFs, and poppler-utils (pdftotext, pdftoppm) for looking at
# PDFs. Installs only what is missing, and only when it can (root with apt-get); otherwise it says what to
# install and carries on.
set -euo pipefail
packages=(fonts-dejavu-core fonts-noto-color-emoji libharfbuzz-subset0 poppler-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "note: please install these Debian packages for the PDF report: ${missing[*]}" >&2
fi
