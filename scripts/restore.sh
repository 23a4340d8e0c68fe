#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW database.
#
#   scripts/restore.sh FILE postgres://user@host:5432/opportune_restored
#
# The target database is created when it does not exist; an existing database is used only
# when it is empty (no tables), so a restore never overwrites live data. The restore runs in
# one transaction: it either completes or leaves the target empty. Objects are owned by the
# restoring user (--no-owner), so a backup restores onto another server with other roles.
# Point DATABASE_URL at the restored database (and run `manage.py migrate`, a no-op when the
# code matches the backup) to switch over.
set -euo pipefail

usage() { echo "usage: scripts/restore.sh FILE postgres://user@host:port/NEW_DATABASE" >&2; exit 2; }
[ $# -eq 2 ] || usage
file="$1"
target="$2"
[ -f "$file" ] || { echo "restore: no backup file at $file" >&2; exit 2; }
case "$target" in
  postgres://*|postgresql://*) ;;
  *) echo "restore: the target must be a postgres:// URL" >&2; exit 2 ;;
esac

base="${target%%\?*}"
name="${base##*/}"
server="${base%/*}"
query=""
[ "$target" != "$base" ] && query="?${target#*\?}"
if ! [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "restore: the target URL must end in a database name (letters, digits, _ and -)" >&2
  exit 2
fi

exists="$(psql "$server/postgres$query" -XtAq -v ON_ERROR_STOP=1 \
  -c "SELECT 1 FROM pg_database WHERE datname = '$name'")"
if [ "$exists" = "1" ]; then
  tables="$(psql "$target" -XtAq -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
  if [ "$tables" != "0" ]; then
    echo "restore: database $name already has $tables tables; restore into a new database" >&2
    exit 1
  fi
else
  psql "$server/postgres$query" -XqAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\""
fi

pg_restore --dbname="$target" --no-owner --no-acl --single-transaction --exit-on-error "$file"
echo "restored $file into $name"
