# Sourced by scripts/app.sh and scripts/test.sh: make a fresh Debian machine ready to run us.
# Installs the Debian libraries Qt needs (when root), creates .venv and installs the project
# into it (with the dev extras), and refreshes it whenever pyproject.toml changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

# Qt's xcb platform plugin, Xvfb for tests and screenshots, and QtWebEngine's libraries.
QT_DEBS=(xvfb xauth libegl1 libgl1 libxkbcommon-x11-0 libxkbcommon0 libxcb-cursor0 libxcb-icccm4
         libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-image0 libxcb-render-util0
         libxcb-xkb1 libfontconfig1 libdbus-1-3 libnss3 libxcomposite1 libxdamage1 libxrandr2 libxtst6
         libxkbfile1 libxshmfence1 libgbm1 fonts-dejavu-core desktop-file-utils xdg-utils
         fonts-wqy-microhei)  # Netron draws tensor shapes with CJK angle brackets (U+3008)

install_debian_packages() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 0
    local missing=() pkg
    for pkg in "${QT_DEBS[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    local need_asound=1
    dpkg -s libasound2t64 >/dev/null 2>&1 || dpkg -s libasound2 >/dev/null 2>&1 && need_asound=0
    [ ${#missing[@]} -eq 0 ] && [ $need_asound = 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if [ $need_asound = 1 ]; then
        # Debian renamed libasound2 to libasound2t64 in newer releases.
        apt-cache show libasound2t64 >/dev/null 2>&1 && missing+=(libasound2t64) || missing+=(libasound2)
    fi
    echo "bootstrap: installing Debian packages for Qt: ${missing[*]}" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv DIR "FILES THE INSTALL DEPENDS ON" PIP-INSTALL-ARGUMENTS…: create DIR once, and install
# again whenever one of those files changes (the stamp is a hash of their contents).
ensure_venv() {
    local venv="$1" inputs="$2"
    shift 2
    if [ ! -x "$venv/bin/python" ]; then
        echo "bootstrap: creating $venv" >&2
        "$PYTHON" -m venv "$venv"
    fi
    # shellcheck disable=SC2086  # the inputs are a list of paths
    local stamp="$venv/.installed-$(cat $inputs | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "bootstrap: installing Python packages into $venv" >&2
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q "$@"
        rm -f "$venv"/.installed-*
        touch "$stamp"
    fi
}

install_debian_packages
ensure_venv "$VENV" "$ROOT/pyproject.toml" -e "$ROOT[dev]"
export PATH="$VENV/bin:$PATH"
