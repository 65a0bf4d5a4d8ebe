#!/usr/bin/env bash
# Run one of the churnops CronJobs now and wait for it: prints its log, exits 0 if it
# succeeded and 1 if it failed (drift found, or a model refused by the promotion gate).
#   deploy/k8s/run-job.sh churnops-drift|churnops-train [NAMESPACE]
set -euo pipefail
cronjob=$1
namespace=${2:-churnops}
job="$cronjob-$(date +%s)"
kubectl -n "$namespace" create job --from="cronjob/$cronjob" "$job"
until [ -n "$(kubectl -n "$namespace" get job "$job" \
        -o jsonpath='{.status.succeeded}{.status.failed}')" ]; do
    sleep 10
done
kubectl -n "$namespace" logs "job/$job"
[ "$(kubectl -n "$namespace" get job "$job" -o jsonpath='{.status.succeeded}')" = 1 ]
