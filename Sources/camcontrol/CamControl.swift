// camcontrol: find and query devices (FreeBSD's camcontrol(8): devlist, periphlist, devtype,
// inquiry, readcap, tur, cmd).
import ArgumentParser

@main
struct CamControl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camcontrol",
        abstract: "Find and query SCSI devices through CAM: emulated disks, /dev/sg devices, iSCSI LUNs.",
        discussion: """
        The device is the first argument after the subcommand: passN, bus:target[:lun], \
        emu:disk[:size=64m][:file=PATH], /dev/sgN, or iscsi://[user[%password]@]host[:port]/IQN/LUN.
        passN and B:T:L are numbered after scanning the local /dev/sg* devices, then the buses in \
        CAM_BUSES (space separated), then --bus options, in that order.

        Examples:
          camcontrol devlist -v --bus emu:disk:size=1g --bus iscsi://127.0.0.1:3260
          camcontrol devlist -b
          camcontrol periphlist pass0
          camcontrol devtype /dev/sg0
          camcontrol inquiry /dev/sg0
          camcontrol readcap pass0 -h
          camcontrol tur emu:disk -v
          camcontrol cmd pass0 -v -c "12 0 0 0 24 0" -i 36
          camcontrol cmd pass0 -c "28 0 0 0 0 0 0 0 1 0" -i 512 - > lba0.bin
          camcontrol cmd pass0 -c "2a 0 0 0 0 0 0 0 1 0" -o 512 - < lba0.bin

        Exit status: 0 on success, 1 when the device or the transport says no, 64 for bad usage.
        """,
        subcommands: [DevList.self, PeriphList.self, DevType.self, Inquiry.self, ReadCap.self, TestUnitReady.self, Command.self]
    )
}
