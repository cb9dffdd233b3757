/// camdd's usage and `--help`, rendered from `OptionSpec.all` (80 columns, as camdd(8)'s usage
/// and ArgumentParser's help look in a terminal).
enum Help {
    static let width = 80
    /// Where option descriptions start.
    static let column = 26

    static let overview = "CAM data transfer utility: copy and benchmark through the asynchronous pass interface."

    /// The usage line; the bracketed options come from the table.
    static var usage: String {
        let head = "usage: camdd -i pass=DEV|file=PATH[,bs=N][,offset=N][,depth=N][,mcs=N] -o ARGS"
        let optional = OptionSpec.all.filter { $0.help != nil && $0.key != .input && $0.key != .output }.map { spec in
            let name = spec.short.map { "-\($0)" } ?? "--\(spec.long!)"
            return "[" + (spec.value.map { "\(name) \($0)" } ?? name) + "]"
        }
        let indent = String(repeating: " ", count: 13)
        return head + "\n" + wrap(optional.joined(separator: " "), indent: indent, firstIndent: indent) + "\n"
    }

    static let discussion = """
        DEV is a device specifier: emu:disk[:size=64m][:file=PATH][:sector=512],
        /dev/sgN, iscsi://host[:port]/IQN/LUN, passN or bus:target:lun.
        Sizes take k, m, g, t (powers of 1024). Defaults: pass bs =
        min(maxio, 1m) in whole sectors, depth 6; file bs 512k, depth 1
        (depth=N on a regular file or block device input: N reads at once);
        -C 1; -t 60. Output files are not truncated unless ,trunc is given.
        Output to /dev/null is counted and discarded without write calls
        (as sg_dd and ddpt do). Pass devices whose transport can poll
        (sg, iSCSI) complete on camdd's own threads; ,poll=0 turns it off.
        An sg input is read into its mapped reserved buffers (no copy from
        the kernel); ,zerocopy=0 turns it off.
        SIGUSR1 prints the statistics and goes on; SIGINT stops, prints them.
        Bad options exit with status 64, failed copies with 1.

        EXAMPLES
          Copy a file into an emulated disk kept in a file, back, compare:
            camdd -i file=data.bin \\
                  -o pass=emu:disk:size=64m:file=disk.img,bs=64k,depth=8
            camdd -i pass=emu:disk:size=64m:file=disk.img \\
                  -o file=copy.bin,trunc -m $(stat -c %s data.bin)
            cmp data.bin copy.bin
          Reblock 4k reads into 1m writes (S/G lists, no copying):
            camdd -i pass=pass0,bs=4k,depth=32 -o pass=pass1,bs=1m,depth=4
          Write 100 MiB of zeros to a disk, 4 commands in flight:
            camdd -i file=/dev/zero,bs=1M -o pass=/dev/sg2,depth=4 -m 100M
          Benchmark reading an iSCSI LUN, JSON statistics on stdout:
            camdd -i pass=iscsi://127.0.0.1/IQN/1,depth=16 \\
                  -o file=/dev/null --json
          Read a file to standard output:
            camdd -i file=/etc/hosts -o file=-

        """

    /// The whole of `--help`: what camdd is, how it is called, each option, then the details
    /// and examples.
    static var text: String {
        var s = wrap("OVERVIEW: " + overview, indent: "", firstIndent: "") + "\n\n" + usage
        for section in OptionSpec.Section.allCases {
            let specs = OptionSpec.all.filter { $0.section == section && $0.help != nil }
            guard !specs.isEmpty else { continue }
            s += "\n\(section.rawValue):\n"
            for spec in specs {
                let name = "  " + spec.synopsis
                let pad = String(repeating: " ", count: column)
                if name.count < column - 1 {
                    let first = name + String(repeating: " ", count: column - name.count)
                    s += wrap(spec.help!, indent: pad, firstIndent: first) + "\n"
                } else {
                    s += name + "\n" + wrap(spec.help!, indent: pad, firstIndent: pad) + "\n"
                }
            }
        }
        return s + "\n" + discussion
    }

    /// Fills lines up to `width` columns, breaking between words.
    static func wrap(_ text: String, indent: String, firstIndent: String) -> String {
        var lines: [String] = []
        var line = firstIndent
        var empty = true
        for word in text.split(separator: " ") {
            if !empty && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}
