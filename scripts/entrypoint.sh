#!/bin/sh
# The one way Opportune's processes start, in the Docker image, in docker-compose and in the
# production smoke test (`make smoke`):
#   entrypoint.sh collectstatic   hashed, compressed static files into STATIC_ROOT
#   entrypoint.sh migrate         apply database migrations
#   entrypoint.sh web             migrate (unless MIGRATE_ON_START=0), then gunicorn
#   entrypoint.sh worker          Celery worker
#   entrypoint.sh beat            Celery beat (exactly one per installation)
#   entrypoint.sh <command …>     anything else, e.g. `python manage.py seed_demo`
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

case "${1:-web}" in
  collectstatic)
    exec "$PYTHON" manage.py collectstatic --no-input
    ;;
  migrate)
    exec "$PYTHON" manage.py migrate --no-input
    ;;
  web)
    if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
      "$PYTHON" manage.py migrate --no-input
    fi
    exec "$PYTHON" -m gunicorn config.wsgi:application --config config/gunicorn.conf.py
    ;;
  worker)
    exec "$PYTHON" -m celery -A config worker --loglevel="${CELERY_LOG_LEVEL:-info}" \
      --concurrency="${CELERY_CONCURRENCY:-2}"
    ;;
  beat)
    exec "$PYTHON" -m celery -A config beat --loglevel="${CELERY_LOG_LEVEL:-info}"
    ;;
  *)
    exec "$@"
    ;;
esac
