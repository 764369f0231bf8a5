"""The eval stage: base vs adapters vs stacks on the same probes — generations side by side, metrics, the
"adapter actually active" check, the failure catalogue, an HTML/JSON report, and comparison of runs."""
