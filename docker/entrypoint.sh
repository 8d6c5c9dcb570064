#!/bin/sh
# Starts the Concord app named by $APP. One image carries all six apps, so a bad APP must stop the
# container with one line naming the variable, like every other configuration error.
# Arguments are passed on to the app. `exec` makes Node the process that receives SIGTERM
# (compose runs it under `init: true`, so an init process forwards signals and reaps children).
set -eu

app="${APP:-}"
apps_dir="dist/apps"
known="$(ls "$apps_dir" 2>/dev/null | tr '\n' ' ')"

case "$app" in
  '' | *[!a-z0-9-]*)
    # Only a plain name may reach the path below: no slashes, no dots, nothing to escape dist/apps.
    echo "APP: must name one of the apps in this image (${known% }), got \"$app\"" >&2
    exit 78 # EX_CONFIG
    ;;
esac

entry="$apps_dir/$app/src/main.js"
if [ ! -f "$entry" ]; then
  echo "APP: no app \"$app\" in this image (have: ${known% })" >&2
  exit 78 # EX_CONFIG
fi

exec node --enable-source-maps "$entry" "$@"
