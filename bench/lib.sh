# Shared by the benchmarks against docker-compose.

# How many of the lab stack's 7 services are ready: healthy, or (the migration) exited 0.
lab_ready_count() {
    local n=0 line
    while read -r line; do
        case "$line" in
            *sirius-migrate\ exited\ 0) n=$((n + 1)) ;;
            *\ healthy\ *) n=$((n + 1)) ;;
        esac
    done < <(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}} {{.State.ExitCode}}' \
        $(docker ps -aq --filter label=com.docker.compose.project=sirius-lab) 2>/dev/null)
    echo "$n"
}
