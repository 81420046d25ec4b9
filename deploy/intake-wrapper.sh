#!/bin/sh
# The `intake` command for operators on a production server, run exactly as the services
# run it: as the intake user, in /var/lib/intake, with /etc/intake/intake.toml and the
# secrets of /etc/intake/secrets.env. Without it, a command typed at 2 a.m. would miss the
# passwords or the configuration, or leave root-owned files in the data directory.
#   install -m 0755 deploy/intake-wrapper.sh /usr/local/bin/intake
#   intake health          (asks sudo for your password when you are not the intake user)
# The INTAKE_SERVICE_* variables below are for trying it elsewhere; sudo drops them.
set -eu
user=${INTAKE_SERVICE_USER:-intake}
venv=${INTAKE_SERVICE_VENV:-/opt/intake/.venv}
workdir=${INTAKE_SERVICE_WORKDIR:-/var/lib/intake}
secrets=${INTAKE_SERVICE_SECRETS:-/etc/intake/secrets.env}
config=${INTAKE_SERVICE_CONFIG:-/etc/intake/intake.toml}

if [ "$(id -un)" != "$user" ]; then
  exec sudo -u "$user" -- "$0" "$@"
fi
if [ -r "$secrets" ]; then
  set -a
  # shellcheck disable=SC1090  # the secrets file is named at run time
  . "$secrets"
  set +a
fi
cd "$workdir"
INTAKE_CONFIG=$config
export INTAKE_CONFIG
exec "$venv/bin/intake" "$@"
