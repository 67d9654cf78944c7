# fish completion for gvtctl(1). tests/packaging/run checks it offers every command and option of
# gvtctl --help.
set -l commands status list types plan add remove reconcile reload qemu-args libvirt-xml doctor help

function __gvtctl_uuids
    gvtctl list --json 2>/dev/null | string replace -rf '^ *"uuid": "([0-9a-f-]+)",?$' '$1'
end

function __gvtctl_vfs
    gvtctl list --json 2>/dev/null | string replace -rf '^ *"qemuArgs": "-device vfio-pci,host=([0-9a-f:.]+)",?$' '$1'
end

function __gvtctl_field
    gvtctl types --json 2>/dev/null | string replace -rf '^ *"'$argv[1]'": "(.*)",?$' '$1' | sort -u
end

complete -c gvtctl -f
complete -c gvtctl -l json -d 'machine-readable output'
complete -c gvtctl -s v -l verbose -d 'errors also name the D-Bus error'
complete -c gvtctl -l bus -x -a 'system user' -d 'the bus gvtd is on'
complete -c gvtctl -s h -l help -d help
complete -c gvtctl -l version -d 'the version'

complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a status -d 'daemon state, config files and errors, last pass, counts'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a list -d 'every declared or present vGPU'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a types -d 'the mdev types each parent offers'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a plan -d 'what the next pass would do, and why'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a add -d "declare a vGPU in gvtd's own drop-in"
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a remove -d "drop a vGPU gvtd's drop-in declares"
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a reconcile -d 'run a pass now'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a reload -d 're-read the desired-state files, then run a pass'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a qemu-args -d 'the QEMU -device argument for a vGPU or an SR-IOV VF'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a libvirt-xml -d 'the libvirt hostdev element for a vGPU or an SR-IOV VF'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'check the host for what GVT-g needs'
complete -c gvtctl -n "not __fish_seen_subcommand_from $commands" -a help -d 'this text, or one command'

complete -c gvtctl -n '__fish_seen_subcommand_from help' -a "$commands"
complete -c gvtctl -n '__fish_seen_subcommand_from remove qemu-args libvirt-xml' -a '(__gvtctl_uuids)'
complete -c gvtctl -n '__fish_seen_subcommand_from qemu-args libvirt-xml' -a '(__gvtctl_vfs)'
complete -c gvtctl -n '__fish_seen_subcommand_from add' -a '(__gvtctl_field type)'
complete -c gvtctl -n '__fish_seen_subcommand_from types' -a '(__gvtctl_field parent)'
complete -c gvtctl -n '__fish_seen_subcommand_from add' -l parent -x -a '(__gvtctl_field parent)' -d 'parent device'
complete -c gvtctl -n '__fish_seen_subcommand_from add' -l uuid -x -d UUID
complete -c gvtctl -n '__fish_seen_subcommand_from add' -l name -x -d label
complete -c gvtctl -n '__fish_seen_subcommand_from add' -l runtime -d 'gone at reboot'
complete -c gvtctl -n '__fish_seen_subcommand_from doctor' -l sysfs-root -r -a '(__fish_complete_directories)' -d 'sysfs mount point'
complete -c gvtctl -n '__fish_seen_subcommand_from doctor' -l proc-root -r -a '(__fish_complete_directories)' -d 'procfs mount point'
