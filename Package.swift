// swift-tools-version: 6.1
import PackageDescription

// Layers (DESIGN.md), imports pointing down only:
//   tools        camdd, camcontrol
//   engines      CAMDD
//   transport    CAM (CAMSpecifier beside the tools: one device-specifier parser)
//   protocol     SCSI
//   SIMs         CAMEmulator, CAMLinuxSG, CAMISCSI (register buses with CAM)
//   system       CAMSystem and its one C shim CCAMSystem: epoll, eventfd, poll, signalfd,
//                ioctls and constants Swift cannot import; every module above reaches them here
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "SwiftCAM",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SCSI", targets: ["SCSI"]),
        .library(name: "CAM", targets: ["CAM"]),
        .library(name: "CAMEmulator", targets: ["CAMEmulator"]),
        .library(name: "CAMLinuxSG", targets: ["CAMLinuxSG"]),
        .library(name: "CAMISCSI", targets: ["CAMISCSI"]),
        .library(name: "CAMDD", targets: ["CAMDD"]),
        .executable(name: "camdd", targets: ["camdd"]),
        .executable(name: "camcontrol", targets: ["camcontrol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // protocol: CDB builders, sense, parsers; no I/O
        .target(name: "SCSI", swiftSettings: strict),
        // system: one wrapper per system call, event-loop descriptors, the one C shim
        .target(name: "CCAMSystem"),
        .target(name: "CAMSystem", dependencies: ["CCAMSystem"], swiftSettings: strict),
        // transport: CCBs, XPT, pass handles, completion workers, recovery, devstat
        .target(name: "CAM", dependencies: ["SCSI", "CAMSystem"], swiftSettings: strict),
        // SIMs
        .target(name: "CAMEmulator", dependencies: ["CAM", "SCSI", "CAMSystem"], swiftSettings: strict),
        .target(name: "CAMLinuxSG", dependencies: ["CAM", "SCSI", "CAMSystem", "CCAMSystem"], swiftSettings: strict),
        .systemLibrary(
            name: "CLibISCSI",
            pkgConfig: "libiscsi",
            providers: [.apt(["libiscsi-dev"])]
        ),
        .target(name: "CAMISCSI", dependencies: ["CAM", "SCSI", "CAMSystem", "CLibISCSI"], swiftSettings: strict),
        // one device-specifier parser for every tool
        .target(
            name: "CAMSpecifier",
            dependencies: ["CAM", "CAMEmulator", "CAMLinuxSG", "CAMISCSI"],
            swiftSettings: strict
        ),
        // copy engine
        .target(
            name: "CAMDD",
            dependencies: ["CAM", "SCSI", "CAMSystem", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: strict
        ),
        // tools
        .executableTarget(
            name: "camdd",
            dependencies: ["CAMDD", "CAMSpecifier"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "camcontrol",
            dependencies: ["CAM", "SCSI", "CAMSpecifier", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .target(name: "CCAMBenchMalloc", path: "Benchmarks/CCAMBenchMalloc"),
        .executableTarget(
            name: "cam-bench",
            dependencies: ["CAM", "SCSI", "CAMEmulator", "CAMSpecifier", "CCAMBenchMalloc"],
            path: "Benchmarks/cam-bench",
            swiftSettings: strict
        ),
        // tests
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SCSITests", dependencies: ["SCSI"], swiftSettings: strict),
        .testTarget(name: "CAMTests", dependencies: ["CAM", "SCSI", "CAMEmulator"], swiftSettings: strict),
        .testTarget(name: "CAMDDTests", dependencies: ["CAMDD", "CAM", "CAMEmulator", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ToolTests", dependencies: ["SCSI", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "LinuxSGTests", dependencies: ["CAM", "SCSI", "CAMLinuxSG", "CCAMSystem", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ISCSITests", dependencies: ["CAM", "SCSI", "CAMISCSI", "TestSupport"], swiftSettings: strict),
    ]
)

// Fuzz targets (docs/FUZZING.md), declared only when scripts/fuzz/run-all asks for them with
// SWIFTCAM_FUZZ=1: libFuzzer supplies their main(), so they link only when built with
// --sanitize=fuzzer, and the ordinary build must not see them.
if Context.environment["SWIFTCAM_FUZZ"] != nil {
    package.targets += [
        .executableTarget(name: "SenseFuzzer", dependencies: ["SCSI"], path: "Fuzz/SenseFuzzer", swiftSettings: strict),
        .executableTarget(name: "ParserFuzzer", dependencies: ["SCSI"], path: "Fuzz/ParserFuzzer", swiftSettings: strict),
        .executableTarget(
            name: "EmulatorFuzzer", dependencies: ["CAM", "SCSI", "CAMEmulator"], path: "Fuzz/EmulatorFuzzer",
            swiftSettings: strict
        ),
    ]
}
