"""The machinery trigger families share: background loops that never die quietly, the competing
consumer loop, the lease helper, the partition balancer and invocations made by hand."""
