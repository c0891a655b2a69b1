#!/bin/bash
set -euo pipefail
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
echo "sirius-rabbitmq: starting RabbitMQ"
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
