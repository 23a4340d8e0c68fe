#!/usr/bin/env bash
# Back up the database at DATABASE_URL to one file in pg_dump's custom format (compressed,
# restorable table by table with pg_restore).
#
#   DATABASE_URL=postgres://user@host:5432/opportune scripts/backup.sh [FILE]
#
# FILE defaults to backups/opportune-<UTC timestamp>.dump. The dump is written next to FILE
# and renamed into place only when pg_dump succeeded, so FILE is never a partial backup.
# Prints the path of the backup.
set -euo pipefail

url="${DATABASE_URL:-}"
case "$url" in
  postgres://*|postgresql://*) ;;
  "") echo "backup: set DATABASE_URL to the postgres:// URL of the database to back up" >&2; exit 2 ;;
  *) echo "backup: DATABASE_URL must be a postgres:// URL (SQLite files are copied, not dumped)" >&2; exit 2 ;;
esac

out="${1:-backups/opportune-$(date -u +%Y%m%dT%H%M%SZ).dump}"
mkdir -p "$(dirname "$out")"
partial="$out.partial.$$"
trap 'rm -f "$partial"' EXIT

# --format=custom: compressed, and pg_restore can restore it in parallel or in part.
pg_dump --format=custom --dbname="$url" --file="$partial"
mv "$partial" "$out"
trap - EXIT
echo "$out"
