# Sourced by the scripts: configure a Meson build directory, or reconfigure it
# with the same options when it exists, so every script is safe to run twice.
configure_build() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}
