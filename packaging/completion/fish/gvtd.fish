# fish completion for gvtd(8). tests/packaging/run checks it offers every option of gvtd --help.
complete -c gvtd -f
complete -c gvtd -l config -r -F -d 'desired-state file'
complete -c gvtd -l check-config -F -d 'check a desired-state file and its drop-ins, change nothing'
complete -c gvtd -l state-dir -r -a '(__fish_complete_directories)' -d 'ledger directory'
complete -c gvtd -l runtime-dir -r -a '(__fish_complete_directories)' -d 'runtime directory'
complete -c gvtd -l sysfs-root -r -a '(__fish_complete_directories)' -d 'sysfs mount point'
complete -c gvtd -l proc-root -r -a '(__fish_complete_directories)' -d 'procfs mount point'
complete -c gvtd -l dev-root -r -a '(__fish_complete_directories)' -d 'devtmpfs mount point'
complete -c gvtd -l bus -x -a 'system user none' -d 'D-Bus to serve on'
complete -c gvtd -l simulate -a 'gvtg gen12' -d 'run against a simulated GPU (gvtg: GVT-g; gen12: SR-IOV)'
complete -c gvtd -l help -d 'show the help and exit'
complete -c gvtd -l version -d 'show the version and exit'
