#!/bin/sh
# Healthy when the server accepts TCP connections (not during first-start initialisation).
exec pg_isready -q -h 127.0.0.1 -U "${POSTGRES_USER:-postgres}"
