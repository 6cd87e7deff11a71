package alerts

import mn "github.com/plowline/plowline/metricname"

// Who to escalate to. Roles rather than names: map them to your rota.
const (
	escalateOwners    = "**Pipeline owners** (the team that runs plowline and the Snowplow infrastructure; Analytics Instrumentation at GitLab)"
	escalateData      = "**Data platform** (owners of the warehouse, Snowpipe and the `gitlab_events` consumers)"
	escalateInfra     = "**Infrastructure / SRE** (the AWS account: Kinesis shards, Lambda concurrency, IAM, quotas)"
	escalateAWS       = "**AWS Support** (open a case from the account; severity *production system down* when data is expiring)"
	escalatePrivacy   = "**Security / Privacy** (personal data written without pseudonymization)"
	escalateAppOwners = "**Application owners** (the GitLab release that ships the trackers)"
)

var runbookEventsLost = Runbook{
	Meaning: "The exporter reconciled a settled window — one whose latency budget has passed, so every stage had time " +
		"to count it — and the downstream side of an edge counted fewer events than the upstream side says it should, by more " +
		"than the edge's tolerance. The alert's labels name the edge (`from` → `to`), the description gives the shortfall, its share " +
		"of expected, and the window the run of out-of-tolerance windows started in.",
	Impact: "Events are missing from everything downstream of `to` — S3, the warehouse, every dashboard and report built on " +
		"`gitlab_events`. Depending on the stage they may still be recoverable (records still inside Kinesis retention, Firehose " +
		"error prefixes, objects in S3 not yet loaded) or gone (trackers, an expired stream). The longer it runs, the more windows " +
		"need backfilling.",
	FirstSteps: []string{
		"Run the reconcile command below and read its `ROOT CAUSE` line: the upstream-most edge out of tolerance, with the events lost (or duplicated) since its run began and since when. That is the stage losing events; the alert may name a later edge that only inherits the shortfall.",
		"Check whether the discrepancy is still growing (newer windows out of tolerance) or was a single window: the description's *since* and the number of out-of-tolerance windows say which.",
		"Open the overview dashboard: the funnel shows the stage where counts fall off, the discrepancy panel shows when it started.",
		"Go to that stage's section under *Diagnosis by stage*.",
	},
	StartAt: nil, // the failing edge says which stage: all in pipeline order
	Mitigation: []string{
		"Loss between the collector and the raw stream: the collector's sink is failing — see `PlowlineCollectorSinkUnhealthy`; scale the stream's shards if writes are throttled.",
		"Loss between the raw stream and the enriched streams: the enricher is erroring or throttled; fix it before the raw stream's retention runs out (`PlowlineStreamBackingUp`). Events still in the stream are processed once it recovers.",
		"Loss between a stream and S3: look at the Firehose error prefixes. Records there can be re-driven: re-run them through `plowline pseudonymize` and upload the output under the normal prefix for the affected hours.",
		"Loss between S3 and the warehouse: re-load the affected hours (Snowpipe `ALTER PIPE ... REFRESH` for files from the last 7 days, or `COPY INTO` with the hour's prefix).",
		"Duplicates (negative discrepancy): usually Lambda or Firehose retries; deduplicate downstream on `event_id` for the affected windows.",
		"Once fixed, re-run reconcile over the whole period (`--from` the *since* time) and confirm every edge is back within tolerance; exit status 0.",
	},
	Escalation: []string{
		"Immediately if the loss is at the trackers or the raw stream (not recoverable): " + escalateOwners + ".",
		"If the loss is between S3 and the warehouse or the warehouse needs a backfill: " + escalateData + ".",
		"If AWS resources refuse work (throttling, quotas, service errors) and you cannot raise limits yourself: " + escalateInfra + ", then " + escalateAWS + ".",
		"Tell the analytics consumers (#data channel) which windows are affected once known.",
	},
}

var runbookGoodEventsDropped = Runbook{
	Meaning: "A stage that counts good events counted less than half of what it counted in the same window a week earlier, " +
		"for two windows in a row. Every stage reconciling with its neighbours can still look healthy: if the drop is at the " +
		"source (fewer events emitted or accepted), nothing downstream is *lost* — there is just less.",
	Impact: "Product analytics for the affected period under-count usage. If the cause is upstream of the collector (trackers " +
		"broken by a release, a blocked collector hostname), those events are not recoverable.",
	FirstSteps: []string{
		"Check which nodes fired: if every stage dropped together, the cause is at or before the collector; if only the warehouse or S3 dropped, it is the stage before it — run reconcile.",
		"Open the **Trackers → collector** dashboard: did the application emit fewer events (a release, a feature flag, an outage of GitLab itself), or did it emit as usual and fail to send?",
		"Rule out calendar effects: a public holiday or an incident of the product itself a week ago or now.",
	},
	StartAt: []string{StageTrackers, StageCollector},
	Mitigation: []string{
		"Tracker regression in a release: roll back or hotfix the tracking code; the events not emitted are lost, note the affected window for analysts.",
		"Collector unreachable (DNS, certificate, load balancer): restore it; trackers do not retry past their buffer.",
		"A stage losing events downstream: follow `PlowlineEventsLost`'s runbook.",
		"Expected drop (holiday, planned change): silence the alert for the expected period with a comment saying why.",
	},
	Escalation: []string{
		"Tracker or application cause: " + escalateAppOwners + ".",
		"Collector or pipeline cause: " + escalateOwners + ".",
		"If the drop lasts more than a day, tell the analytics consumers which days are affected.",
	},
}

var runbookCollectorSinkUnhealthy = Runbook{
	Meaning: "The collector's writes to a Kinesis stream (`sink` label: good = raw good stream, bad = raw bad stream) have " +
		"been failing for five minutes. The collector acknowledges an event only once its bounded sink buffer has taken it; " +
		"while the buffer has room trackers still get 200, once it is full (or a write times out) they get 503.",
	Impact: "While the buffer has room no event is lost yet, but acknowledged events in it are lost if the collector is killed " +
		"before it drains them (it drains on a graceful shutdown). Once trackers get 503 they retry from their own bounded, " +
		"in-memory queues; events that outlast those queues are lost — GitLab's backend tracker counts them as failed.",
	FirstSteps: []string{
		"Check the buffer fill in the description and on the dashboard: how long until it is full at the current rate?",
		"In CloudWatch, look at the stream's `WriteProvisionedThroughputExceeded` and `PutRecords.FailedRecords`: throttling means too few shards; errors with no throttling mean permissions, a deleted stream, or an AWS incident.",
		"Read the collector's logs (*On AWS* `aws logs tail /aws/lambda/<collector function> --since 30m`; locally the log of `plowline run`): the sink error names the stream and the AWS error code.",
		"Do not restart the collector while its buffer holds events; if you must, stop it gracefully (SIGTERM) so it drains first.",
	},
	StartAt: []string{StageCollector, StageStreams},
	Mitigation: []string{
		"Throttled: raise the stream's shard count (*On AWS* `aws kinesis update-shard-count --stream-name <stream> --target-shard-count <2x> --scaling-type UNIFORM_SCALING`) or switch it to on-demand.",
		"AccessDenied / ResourceNotFound: a recent IAM or infrastructure change; revert it.",
		"AWS-side errors: check the AWS Health dashboard for Kinesis in the region; nothing to do but wait and keep the collector alive.",
	},
	Escalation: []string{
		"Immediately if the buffer will be full within 30 minutes: " + escalateInfra + ".",
		"AWS-side incident: " + escalateAWS + ".",
		"Always inform " + escalateOwners + ".",
	},
}

var runbookBadEventRatioHigh = Runbook{
	Meaning: "More than 5% of the events the enricher processed over the last half hour failed validation or enrichment " +
		"and became bad rows instead of good events. The description breaks the bad rows down by type.",
	Impact: "Bad events do not reach `gitlab_events`; they land in the bad-events table as bad rows. They are not lost — they " +
		"can be recovered once the cause is fixed — but dashboards and reports under-count until then.",
	FirstSteps: []string{
		"Read the bad-row types in the description: `schema_violations` (an event or context does not match its schema, or the schema cannot be resolved), `tracker_protocol_violations` (malformed tracker requests), `enrichment_failures`, `size_violation` (the collector's; payloads too large).",
		"Sample recent bad rows from the bad-events table or the enriched-bad S3 prefix and read their `failure.messages`: they name the schema, the JSON path and the offending value.",
		"Correlate with releases: a GitLab deploy that changed an event or context, a new schema version not yet published to the Iglu registry, a tracker upgrade.",
	},
	StartAt: []string{StageEnricher, StageTrackers},
	Mitigation: []string{
		"Schema not found: publish the schema to the registry the enricher resolves from; new events validate at once.",
		"Events not matching their schema: fix the tracking code (or publish the schema version it actually sends).",
		"Once fixed, recover the bad rows of the affected period (re-process their payloads through the enricher) if analysts need them.",
	},
	Escalation: []string{
		"Tracking-code cause: " + escalateAppOwners + ".",
		"Registry, enricher or configuration cause: " + escalateOwners + ".",
	},
}

var runbookStreamBackingUp = Runbook{
	Meaning: "A Kinesis stream's consumer (the enricher for the raw-good stream, Firehose for the others) is behind: the oldest " +
		"unread record is older than the threshold. The description gives how far behind and, most important, how long until " +
		"unread records reach the stream's retention and expire. The warning fires at 30 minutes behind; the page at a quarter of the retention.",
	Impact: "Nothing is lost while the age is below the retention — the consumer processes the backlog once it recovers, and " +
		"the events arrive late. Past the retention, Kinesis deletes records that were never read: permanent loss, from the oldest first.",
	FirstSteps: []string{
		"Note the time left in the description: that is your deadline.",
		"Is the consumer failing or slow? Lambda `Errors` on the consumer function means a poison batch being retried; `Throttles` or `ConcurrentExecutions` at the limit means not enough concurrency; high `Duration` means slow processing (an enrichment calling a slow service).",
		"Is the stream receiving more than usual? Compare `IncomingRecords` with last week.",
	},
	StartAt: []string{StageStreams, StageEnricher},
	Mitigation: []string{
		"A poison batch (the same error repeating): fix the cause; as a stop-gap, configure the event source mapping with `BisectBatchOnFunctionError` and an on-failure destination so one bad record stops blocking the shard.",
		"Too slow: raise the event source mapping's `ParallelizationFactor` (up to 10 per shard) and the function's reserved concurrency; or add shards.",
		"Running out of time: raise the stream's retention (*On AWS* `aws kinesis increase-stream-retention-period --stream-name <stream> --retention-period-hours 168`) — it buys days and costs little; lower it again after recovery.",
	},
	Escalation: []string{
		"Critical (a quarter of retention gone) and no fix in sight within the hour: " + escalateOwners + " and " + escalateInfra + ".",
		"Kinesis or Lambda service errors: " + escalateAWS + ".",
	},
}

var runbookFirehoseDeliveryStale = Runbook{
	Meaning: "The oldest record in a Firehose delivery stream that has not been delivered to S3 is older than 30 minutes " +
		"(`DeliveryToS3.DataFreshness`). Firehose buffers for at most 15 minutes, so it is retrying: the transformation " +
		"(pseudonymizer) fails or times out, or writing to S3 fails.",
	Impact: "Events reach S3 and the warehouse late. Firehose retries S3 delivery for 24 hours and then discards the records: past that, loss.",
	FirstSteps: []string{
		"In CloudWatch, check `DeliveryToS3.Success` (below 1 = S3 writes failing) and `ExecuteProcessing.Success` (below 1 = the pseudonymizer Lambda failing).",
		"Read the delivery stream's error logs (CloudWatch Logs group `/aws/kinesisfirehose/<delivery stream>`): S3 `AccessDenied`, KMS errors, or Lambda invocation errors.",
		"Check the pseudonymizer Lambda's `Errors` and `Duration` against its timeout.",
	},
	StartAt: []string{StageFirehose, StageS3},
	Mitigation: []string{
		"S3 AccessDenied / KMS: restore the delivery role's permissions or the bucket/key policy (usually a recent change).",
		"Pseudonymizer failing: see `PlowlinePseudonymizerFailingRecords`; timeouts: raise its timeout or memory.",
		"Once delivery resumes, the backlog flows on its own; confirm with reconcile that the S3 nodes catch up.",
	},
	Escalation: []string{
		"Not resolved within 4 hours (a sixth of Firehose's 24-hour retry window): " + escalateOwners + " and " + escalateInfra + ".",
		"Firehose service errors: " + escalateAWS + ".",
	},
}

var runbookFirehoseDeliveryFailing = Runbook{
	Meaning: "Over the last hour a Firehose delivery stream delivered less than 90% of the records it received to S3. " +
		"The rest are still being retried, or went to the error prefixes: processing failures (the pseudonymizer rejected or failed " +
		"them) or delivery failures.",
	Impact: "Records in the error prefixes do not reach the warehouse. Processing-failed records are stored **untransformed**: " +
		"personal data that was never pseudonymized sits in the bucket.",
	FirstSteps: []string{
		"Look at the pseudonymizer's `processing_failed` rate and the Lambda's errors: is it the transformation or the delivery?",
		"List the error prefixes for the current hour (*On AWS* `aws s3 ls s3://<bucket>/processing-failed/ --recursive | tail`; locally they stay in the object store of `plowline run`, counted by `plowline_pseudonymizer_records_total{result=\"processing_failed\"}`) and read one object's `errorMessage`.",
		"Check `PlowlineFirehoseDeliveryStale` for the same stream: stale and failing together means S3 delivery itself is broken.",
	},
	StartAt: []string{StageFirehose, StageS3},
	Mitigation: []string{
		"Fix the transformation or the delivery (see the stale-delivery and pseudonymizer runbooks).",
		"Re-drive the failed records: decode them from the error prefix, run them through `plowline pseudonymize`, upload the result under the normal prefix for their hour, then let the warehouse load them.",
		"Delete processing-failed objects once re-driven — they contain personal data.",
	},
	Escalation: []string{
		"Processing-failed records present: " + escalatePrivacy + " (they hold unpseudonymized personal data), and " + escalateOwners + ".",
		"S3 or Firehose service side: " + escalateInfra + ", then " + escalateAWS + ".",
	},
}

var runbookPseudonymizerFailingRecords = Runbook{
	Meaning: "The HMAC pseudonymizer (Firehose's transformation Lambda) returned `ProcessingFailed` for records of a delivery " +
		"stream: records it could not parse as an enriched event (TSV) or a bad row (JSON). It never passes a record through " +
		"unpseudonymized; when its key cannot be read it fails the whole invocation instead (that shows as `PlowlineLambdaErrors` " +
		"on the pseudonymizer), and Firehose, after its retries, writes that batch to the same error prefix.",
	Impact: "Firehose writes processing-failed records, **untransformed**, to the processing-failed error prefix: personal data " +
		"stored without pseudonymization, and those events do not reach the warehouse. Treat it as a privacy incident until shown otherwise.",
	FirstSteps: []string{
		"Read the pseudonymizer's logs (*On AWS* `aws logs tail /aws/lambda/<pseudonymizer function> --since 30m`; locally the log of `plowline run`): each failure names the record id, the delivery stream and why (never the content or the key).",
		"Which stream? Malformed records on the raw-bad stream usually mean something other than the collector writes to it; on the enriched streams, an enricher change producing a different TSV (column count, encoding).",
		"Also failing whole invocations? Check `PlowlineLambdaErrors` for the pseudonymizer and its logs for `pseudonymizer unavailable`: a key or allowlist problem (Secrets Manager permissions, a rotated or deleted secret).",
		"Was anything deployed: a new pseudonymizer or enricher version, a rotated key, a changed allowlist?",
	},
	StartAt: []string{StageFirehose, StageEnricher},
	Mitigation: []string{
		"Malformed records: find their producer and fix or roll it back.",
		"Key or allowlist problem: restore the previous secret version or allowlist; invocations succeed again at once.",
		"Re-drive the processing-failed records: decode `rawData` from the error-prefix objects, run them through `plowline pseudonymize`, upload the output under the normal prefix for their hour; then delete the error-prefix objects.",
	},
	Escalation: []string{
		"Always, as soon as failures are confirmed: " + escalatePrivacy + ".",
		escalateOwners + " for the fix.",
	},
}

var runbookLambdaErrors = Runbook{
	Meaning: "More than 1% of a pipeline Lambda function's invocations failed over the last 15 minutes " +
		"(CloudWatch `Errors` / `Invocations`, read by the exporter). The `function` label names it.",
	Impact: "Depends on the function. Collector: trackers get errors and drop events. Enricher (Kinesis-triggered): the failed " +
		"batch is retried and blocks its shard, so the raw stream backs up. Pseudonymizer (Firehose transformation): records go to the " +
		"processing-failed prefix untransformed.",
	FirstSteps: []string{
		"Read the function's logs for the error (*On AWS* `aws logs tail /aws/lambda/<function> --since 30m --filter-pattern ERROR`); timeouts show as `Task timed out`.",
		"Check `Throttles` (in the description) and `ConcurrentExecutions` against the account and reserved limits.",
		"Check whether a deploy of the function or its configuration coincides with the start.",
	},
	StartAt: []string{StageEnricher, StageCollector, StageFirehose},
	Mitigation: []string{
		"A bad deploy: roll back to the previous function version (*On AWS* `aws lambda update-alias --function-name <function> --name live --function-version <previous>`).",
		"Timeouts: raise timeout or memory (memory also raises CPU).",
		"Throttles: raise reserved concurrency, or the account limit via " + escalateInfra + ".",
	},
	Escalation: []string{
		"Errors persist after a rollback: " + escalateOwners + ".",
		"Lambda service errors in the region: " + escalateAWS + ".",
	},
}

var runbookWarehouseLoadLag = Runbook{
	Meaning: "No row has been loaded into the good-events table for more than three hours (latest `uploaded_at`). " +
		"Either nothing reaches S3, or Snowpipe / the loader stopped loading what is there.",
	Impact: "The warehouse is stale: dashboards and reports stop at the last load. Data in S3 is safe and loads once the loader recovers, " +
		"as long as files are younger than Snowpipe's 14-day load-history window.",
	FirstSteps: []string{
		"Are objects arriving in S3 under the good prefix for the last hours? If not, this is a Firehose problem — see its section.",
		"If they are: check `COPY_HISTORY` and `SYSTEM$PIPE_STATUS` (see *Warehouse* below) for load errors or a paused pipe.",
		"Check S3 event notifications to the pipe's queue have not been removed (a bucket configuration change).",
	},
	StartAt: []string{StageWarehouse, StageS3},
	Mitigation: []string{
		"Paused or stale pipe: `ALTER PIPE <pipe> SET PIPE_EXECUTION_PAUSED = FALSE;` then `ALTER PIPE <pipe> REFRESH;` to queue files of the last 7 days.",
		"Load errors (a changed file format, a new column): fix the stage or table definition and refresh.",
		"After recovery, run reconcile over the lag period to confirm the warehouse rows match S3.",
	},
	Escalation: []string{
		"Loader or warehouse side: " + escalateData + ".",
		"Nothing reaching S3: " + escalateOwners + ".",
	},
}

var runbookTrackersFailing = Runbook{
	Meaning: "Less than 95% of the events GitLab's trackers tried to send over the last 10 minutes reached the collector, " +
		"computed as successful / (successful + failed) from `" + mn.GitLabSnowplowSuccessfulEvents.Name + "` and `" + mn.GitLabSnowplowFailedEvents.Name + "` " +
		"(GitLab's Product Intelligence panel shows successful / emitted over 1h instead; the Trackers → collector dashboard shows both).",
	Impact: "The application's tracker does not persist events it failed to send: every failed event is lost for good. " +
		"Nothing downstream can reconcile these — the collector never saw them.",
	FirstSteps: []string{
		"Open the **Trackers → collector** dashboard: failures across all application nodes (collector or network) or a few (those nodes' egress)?",
		"Is the collector healthy? Request rate and 5xx by code, `PlowlineCollectorSinkUnhealthy` (503s when its buffer is full), load balancer 5XX and healthy host count.",
		"From an application node, `curl -fsSv \"${PLOWLINE_COLLECTOR_URL:-http://127.0.0.1:8080}/health\"` (with `PLOWLINE_COLLECTOR_URL=https://<collector host>` on AWS): DNS, TLS certificate expiry, connect timeouts.",
	},
	StartAt: []string{StageTrackers, StageCollector},
	Mitigation: []string{
		"Collector returning 5xx: see the collector section; scale out or fix its sink.",
		"DNS / certificate / network: restore the record, renew the certificate, or revert the network change.",
		"Tracker bug after a deploy (failures with a healthy collector): roll back the release or disable the tracking change behind its feature flag.",
	},
	Escalation: []string{
		"Collector or pipeline: " + escalateOwners + ".",
		"Network, DNS, certificates: " + escalateInfra + ".",
		"Tracker code: " + escalateAppOwners + ".",
	},
}

var runbookCanaryLost = Runbook{
	Meaning: "The exporter sends a synthetic canary event to the collector every interval and looks for it at each stage " +
		"(S3 prefixes, warehouse tables). More than one canary sent in the last hour was not found at the named stage within its deadline.",
	Impact: "A canary is one event: if canaries are lost, real events probably are too, at that stage — and this fires before " +
		"a window settles, so it is often the earliest sign.",
	FirstSteps: []string{
		"Check which stages lose canaries: the earliest stage in pipeline order that loses them is the culprit.",
		"Check the latency panel: canaries arriving just after the deadline are late, not lost (a slow Firehose buffer or load).",
		"Run reconcile: do the settled windows show real events missing at the same stage?",
	},
	StartAt: []string{StageS3, StageWarehouse, StageFirehose},
	Mitigation: []string{
		"Late, not lost: if a stage's latency rose permanently (larger Firehose buffers, slower loads), raise the canary deadline in the exporter configuration.",
		"Lost: follow the diagnosis of that stage; the real events are affected the same way.",
	},
	Escalation: []string{
		"If reconcile shows real events lost at the same stage: handle as `PlowlineEventsLost`.",
		"Otherwise: " + escalateOwners + " in working hours.",
	},
}

var runbookCanaryNotSeen = Runbook{
	Meaning: "No canary event has been found at the named stage for over two hours. Either the stage delivers nothing at all, " +
		"or canaries are not being sent (the description gives the latest send and refused sends).",
	Impact: "If the stage is not delivering, nothing after it is getting data. If canaries are not being sent, the pipeline " +
		"has lost its heartbeat: event loss at stages without reconciled edges would go unnoticed.",
	FirstSteps: []string{
		"Is the latest canary send recent? If not, the exporter's canary sender is stuck or the collector refuses it: check the exporter's logs and `" + mn.CanarySendFailures.Name + "`.",
		"If canaries are being sent: is the stage receiving any events? Check its node count on the overview dashboard and `PlowlineWarehouseLoadLag` / `PlowlineFirehoseDeliveryStale`.",
		"Check the exporter can read the stage (its source's `up`): a stage it cannot read never \"sees\" a canary.",
	},
	StartAt: []string{StageExporter, StageS3, StageWarehouse},
	Mitigation: []string{
		"Sender stuck: restart the exporter (it keeps no state that matters).",
		"Collector refusing canaries: check the collector's response in the exporter log (a changed path, auth in front of the collector).",
		"Stage not delivering: follow that stage's diagnosis.",
	},
	Escalation: []string{
		escalateOwners + ".",
	},
}

var runbookSourceDown = Runbook{
	Meaning: "One of the exporter's sources (a Prometheus, a pipeline /metrics, CloudWatch, S3 or the warehouse) has failed " +
		"every refresh for 15 minutes. The exporter keeps serving its last good counts.",
	Impact: "No event is lost by this alone, but the pipeline is partly unwatched: edges reading this source are not judged on " +
		"new windows, so real loss there would not alert. For CloudWatch, the iterator-age and Firehose alerts go blind too.",
	FirstSteps: []string{
		"Read the exporter's log for the refresh error: it names the source and the failing call (permissions, timeout, throttling, a changed endpoint).",
		"Check the source's own health: is Prometheus up, is the warehouse suspended or out of credits, are AWS credentials of the exporter expired?",
		"Check `" + mn.SourceRefreshDuration.Name + "`: refreshes hitting their timeout mean a slow source or too wide a query.",
	},
	StartAt: []string{StageExporter},
	Mitigation: []string{
		"Expired credentials / missing permissions: renew or restore them (CloudWatch needs `cloudwatch:GetMetricData`; S3 `s3:ListBucket`, `s3:GetObject`).",
		"Throttling (CloudWatch `Throttling`, warehouse queueing): raise the source's interval in the exporter configuration.",
		"When the source recovers, the exporter judges the missed windows on its next refresh; run reconcile over the outage to confirm.",
	},
	Escalation: []string{
		"Warehouse source: " + escalateData + ".",
		"AWS credentials or permissions: " + escalateInfra + ".",
		"Otherwise: " + escalateOwners + " in working hours.",
	},
}

var runbookExporterAbsent = Runbook{
	Meaning: "Prometheus has no series from the plowline exporter: it is not running, crashing at start (a configuration " +
		"error exits with status 2 and names the key), or Prometheus cannot reach it (target down, network policy, TLS or basic-auth change).",
	Impact: "Every plowline alert that reads the exporter — events lost, volume drop, stream backing up, Firehose, canary, warehouse lag — " +
		"is blind. The pipeline itself is unaffected, but loss would go unnoticed until someone looks.",
	FirstSteps: []string{
		"Open Prometheus's *Targets* page: is the plowline job down (and with which error), or missing altogether (scrape configuration changed)?",
		"Check the exporter's process or pod: restarting in a loop? Its last log lines name the reason (a configuration key and value, a port in use, a missing key file).",
		"`curl -fsS \"${PLOWLINE_EXPORTER_URL:-http://127.0.0.1:9090}/metrics\" | head` from the Prometheus host (on AWS `PLOWLINE_EXPORTER_URL=http://<exporter host>:9807`, the default `--web.listen-address` of `plowline exporter`): reachable, and serving?",
		"Run the reconcile command below by hand meanwhile: it reads the same sources without the exporter and tells you whether events are being lost right now.",
	},
	StartAt: []string{StageExporter},
	Mitigation: []string{
		"Configuration error: fix the key the exporter names and restart; `plowline exporter --config \"${PLOWLINE_EXPORTER_CONFIG:-plowline-data/exporter/exporter.yaml}\" --print-config` validates the file and prints the effective configuration without serving.",
		"Crash loop after an upgrade: roll back to the previous version.",
		"Scrape problem: restore the scrape configuration, credentials or network path.",
	},
	Escalation: []string{
		"Not back within an hour: " + escalateOwners + " — and run reconcile every hour until it is.",
	},
}
