#!/usr/bin/env bash
# Installs the Debian packages the local services need (MariaDB for the change log; Java 17 and Maven for
# the Kafka broker jars; Chromium for the browser test; PostgreSQL for the real-Airflow harness's metadata DB). Safe to re-run: it installs only what is missing.
set -euo pipefail

missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# Headless Chromium for the browser test of the Airflow UI (tests/browser), driven by playwright-core.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin): the metadata database of devservices/airflow.py,
# which runs its own cluster on a loopback port (as the `postgres` account the package creates when run as root).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "system packages: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# policy-rc.d keeps the Debian package from starting the system MariaDB service: ours runs on its own port.
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"
