# Sourced by the cmake and llvm-config wrappers beside it. Installs a pinned PyPI wheel into
# target/build-tools/NAME with pip (no root), once, atomically and under a lock.
#
# usage: install_wheel NAME REQUIREMENT   (prints nothing on success; the folder is then ready)

set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tools="$root/target/build-tools"

install_wheel() {
  name=$1 requirement=$2
  dest="$tools/$name"
  [ -e "$dest/.complete" ] && return 0
  mkdir -p "$tools"
  # One installer at a time; the others wait, then find the folder complete.
  exec 9>"$tools/.$name.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  [ -e "$dest/.complete" ] && return 0
  echo "tracemark build-tools: installing $requirement into $dest (python3 -m pip)" >&2
  rm -rf "$dest.partial"
  if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-warn-script-location \
      --target "$dest.partial" "$requirement" >&2; then
    echo "tracemark build-tools: could not install $requirement with python3 -m pip;" \
         "install $name yourself (e.g. your distribution's package) and rebuild" >&2
    exit 1
  fi
  touch "$dest.partial/.complete"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
}
