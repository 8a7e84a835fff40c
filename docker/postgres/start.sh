#!/bin/sh
# Entrypoint wrapper for the postgres service: the WAL archive volume is mounted root-owned, so
# make it the server's before handing over to the image's own entrypoint (which drops to the
# postgres user). WAL archiving + pg_basebackup give point-in-time recovery (docs/operations.md).
set -eu
ARCHIVE=/var/lib/postgresql/wal-archive
mkdir -p "$ARCHIVE"
chown postgres:postgres "$ARCHIVE"
chmod 700 "$ARCHIVE"
exec docker-entrypoint.sh postgres \
  -c wal_level=replica \
  -c archive_mode=on \
  -c "archive_command=test ! -f $ARCHIVE/%f && cp %p $ARCHIVE/%f" \
  -c archive_timeout=300 \
  -c max_wal_senders=4 \
  "$@"
