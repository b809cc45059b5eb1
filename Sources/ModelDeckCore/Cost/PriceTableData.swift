/// The price table ModelDeck ships: one versioned YAML document, embedded so the single `modeldeck` binary
/// needs no resource bundle next to it (SwiftPM resources on Linux live in a separate folder that a copied
/// binary loses). `--prices FILE` or `$MODELDECK_PRICES` replaces it with a file of the same shape.
///
/// Adding a region, an instance type or a platform with one of the known billing models is a data change:
/// add its `platforms` entry (if new) and its `prices` rows here; no code changes.
///
/// List prices, first tier, USD, as AWS's pricing pages published them when checked: each row says which unit
/// it prices, when it was checked and where the figure comes from (its `source`). A month is 30 days (720 h), as
/// AWS's own worked examples count it. `PriceTableTests` pins the rows the cost engine relies on.
let standardPriceTableYAML = """
version: "2026-11-30"
currency: USD
# Billing models the cost engine knows:
#   invocation – each request pays a fee and its duration × memory (rounded up to `granularity`, at least `minimum`)
#   task       – a running task pays vCPU and memory by time (per `granularity`, at least `minimum` per task)
#   instance   – an always-on instance pays by the hour, busy or not
#   job        – an instance pays by the hour while a batch job runs on it
platforms:
  aws-lambda:
    billing: invocation
    granularity: 1ms
    minimum: 1ms
    # Per account and month, across all functions; applied only when asked (`cost estimate --free-tier`).
    free_tier: {requests: 1000000, gb_seconds: 400000}
    source: https://aws.amazon.com/lambda/pricing/
  sagemaker-serverless:
    billing: invocation
    granularity: 1ms
    minimum: 1ms
    source: https://aws.amazon.com/sagemaker/pricing/
  ecs-fargate:
    billing: task
    granularity: 1s
    minimum: 1m
    source: https://aws.amazon.com/fargate/pricing/
  sagemaker-realtime:
    billing: instance
    source: https://aws.amazon.com/sagemaker/pricing/
  # Batch Transform: instances billed by the hour while a job runs (per second of the job, on the instance named).
  sagemaker-batch-transform:
    billing: job
    source: https://aws.amazon.com/sagemaker/pricing/
  # Request-based billing: an instance is billed only while it handles requests, rounded up to 100 ms.
  google-cloud-run:
    billing: invocation
    granularity: 100ms
    minimum: 100ms
    source: https://cloud.google.com/run/pricing
prices:
  # AWS Lambda, on demand: duration per GB-second (memory in GB = MB / 1,024), billed per 1 ms; requests.
  - {platform: aws-lambda, region: us-east-1, arch: x86_64, unit: GB-second, price: 0.0000166667, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: us-east-1, arch: arm64, unit: GB-second, price: 0.0000133334, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: us-east-1, unit: 1M requests, price: 0.20, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: eu-central-1, arch: x86_64, unit: GB-second, price: 0.0000166667, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: eu-central-1, arch: arm64, unit: GB-second, price: 0.0000133334, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: eu-central-1, unit: 1M requests, price: 0.20, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  # Provisioned concurrency (x86): per GB-second while enabled, plus a lower duration price for requests it serves.
  - {platform: aws-lambda, region: us-east-1, arch: x86_64, unit: provisioned GB-second, price: 0.0000041667, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: us-east-1, arch: x86_64, unit: provisioned duration GB-second, price: 0.0000097222, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: eu-central-1, arch: x86_64, unit: provisioned GB-second, price: 0.0000050147, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  - {platform: aws-lambda, region: eu-central-1, arch: x86_64, unit: provisioned duration GB-second, price: 0.0000117011, checked: "2026-11-23", source: https://aws.amazon.com/lambda/pricing/}
  # SageMaker serverless inference: compute per GB-second (1,024 MB: $0.00002 a second); data processed per GB
  # (decimal) in and out. eu-central-1 not checked yet.
  - {platform: sagemaker-serverless, region: us-east-1, unit: GB-second, price: 0.00002, checked: "2026-11-23", source: https://aws.amazon.com/sagemaker/pricing/}
  - {platform: sagemaker-serverless, region: us-east-1, unit: GB in, price: 0.016, checked: "2026-11-23", source: https://aws.amazon.com/sagemaker/pricing/}
  - {platform: sagemaker-serverless, region: us-east-1, unit: GB out, price: 0.016, checked: "2026-11-23", source: https://aws.amazon.com/sagemaker/pricing/}
  # Fargate, Linux: per vCPU-hour and GB-hour, billed per second with a one-minute minimum per task.
  - {platform: ecs-fargate, region: us-east-1, arch: x86_64, unit: vCPU-hour, price: 0.04048, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  - {platform: ecs-fargate, region: us-east-1, arch: x86_64, unit: GB-hour, price: 0.004445, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  - {platform: ecs-fargate, region: us-east-1, arch: arm64, unit: vCPU-hour, price: 0.03238, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  - {platform: ecs-fargate, region: us-east-1, arch: arm64, unit: GB-hour, price: 0.00356, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  - {platform: ecs-fargate, region: eu-central-1, arch: x86_64, unit: vCPU-hour, price: 0.04656, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  - {platform: ecs-fargate, region: eu-central-1, arch: x86_64, unit: GB-hour, price: 0.00511, checked: "2026-11-23", source: https://aws.amazon.com/fargate/pricing/}
  # SageMaker real-time endpoints: always-on instances, per hour. eu-central-1 not checked yet.
  - {platform: sagemaker-realtime, region: us-east-1, instance: ml.t2.medium, unit: instance-hour, price: 0.056, checked: "2026-11-23", source: https://aws.amazon.com/sagemaker/pricing/}
  - {platform: sagemaker-realtime, region: us-east-1, instance: ml.m5.large, unit: instance-hour, price: 0.115, checked: "2026-11-23", source: https://aws.amazon.com/sagemaker/pricing/}
  # SageMaker Batch Transform: the instance a job runs on, per hour while it runs (the pricing page's Batch Transform
  # tab; the same hourly price as a real-time ml.m5.large). Other types and regions not checked yet.
  - {platform: sagemaker-batch-transform, region: us-east-1, instance: ml.m5.large, unit: instance-hour, price: 0.115, checked: "2026-11-30", source: https://aws.amazon.com/sagemaker/pricing/}
  # Google Cloud Run, request-based billing, tier 1 regions (us-central1, europe-west1): per vCPU-second and GiB-second
  # (GiB = MB / 1,024, as the GB-second rows count) of billed time, plus requests. Price an http target with
  # `price_as: google-cloud-run` and `region: us-central1`; its `cpu` gives the vCPUs (default 1).
  - {platform: google-cloud-run, region: us-central1, unit: vCPU-second, price: 0.000024, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
  - {platform: google-cloud-run, region: us-central1, unit: GB-second, price: 0.0000025, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
  - {platform: google-cloud-run, region: us-central1, unit: 1M requests, price: 0.40, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
  - {platform: google-cloud-run, region: europe-west1, unit: vCPU-second, price: 0.000024, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
  - {platform: google-cloud-run, region: europe-west1, unit: GB-second, price: 0.0000025, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
  - {platform: google-cloud-run, region: europe-west1, unit: 1M requests, price: 0.40, checked: "2026-11-30", source: https://cloud.google.com/run/pricing}
"""
