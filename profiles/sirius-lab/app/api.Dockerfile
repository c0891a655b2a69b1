# sirius-api: development and runner stages, as in Sirius. Also runs the migrations (/app/migrate).
FROM debian:bookworm-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-psycopg2 postgresql-client wget \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY lab.py migrate /app/

FROM base AS development
RUN mkdir -p /etc/sirius-lab && echo development > /etc/sirius-lab/build-target
LABEL org.siriusscan.lab.build-target=development
CMD ["python3", "/app/lab.py", "api"]

FROM base AS runner
RUN mkdir -p /etc/sirius-lab && echo runner > /etc/sirius-lab/build-target
LABEL org.siriusscan.lab.build-target=runner
CMD ["python3", "/app/lab.py", "api"]
