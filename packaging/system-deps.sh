#!/bin/sh
# Installs from Debian what the desk, the tests and screenshots need and the machine
# lacks: the X/GL libraries Qt loads (without them the desk cannot open a window),
# Chromium (web page tests), Xvfb (screenshots on a virtual screen), and GNOME Keyring
# with D-Bus (the demo starts a private keyring where none is unlocked; `make test`
# checks that start-up). Only as root with apt-get; otherwise it says what is missing.
set -eu

packages=""
command -v chromium >/dev/null 2>&1 || packages="$packages chromium"
command -v xvfb-run >/dev/null 2>&1 || packages="$packages xvfb xauth"
command -v gnome-keyring-daemon >/dev/null 2>&1 || packages="$packages gnome-keyring"
command -v dbus-run-session >/dev/null 2>&1 || packages="$packages dbus"
command -v dbus-launch >/dev/null 2>&1 || packages="$packages dbus-x11"
command -v secret-tool >/dev/null 2>&1 || packages="$packages libsecret-tools"
for lib in libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3 \
           libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
           libxcb-randr0 libxcb-render-util0 libxcb-image0 fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" \
        || packages="$packages $lib"
done

[ -z "$packages" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing from Debian:$packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # word splitting is the point
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
else
    echo "Note: these Debian packages are missing and could not be installed (needs root and apt-get):$packages" >&2
fi
