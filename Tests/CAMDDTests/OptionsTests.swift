import CAMDD
import Testing

@Suite("camdd -i/-o lists and sizes")
struct OptionsTests {
    @Test("sizes read as expand_number(3): powers of 1024, any case")
    func sizes() {
        #expect(ByteSize.parse("512") == 512)
        #expect(ByteSize.parse("4k") == 4096)
        #expect(ByteSize.parse("1M") == 1 << 20)
        #expect(ByteSize.parse("2g") == 2 << 30)
        #expect(ByteSize.parse("1t") == 1 << 40)
        #expect(ByteSize.parse("0x1000") == 4096)
        #expect(ByteSize.parse("") == nil)
        #expect(ByteSize.parse("12q") == nil)
        #expect(ByteSize.parse("k") == nil)
        #expect(ByteSize.parse("99999999999e") == nil)
    }

    @Test("a full list parses into its fields")
    func fullList() throws {
        let o = try EndpointOptions.parse("pass=emu:disk:size=1m,bs=64k,offset=1m,depth=16,mcs=10,direct")
        #expect(o.kind == .pass)
        #expect(o.name == "emu:disk:size=1m")
        #expect(o.blockSize == 65536)
        #expect(o.offset == 1 << 20)
        #expect(o.depth == 16)
        #expect(o.minimumCommandSize == 10)
        #expect(o.direct)
        #expect(!o.truncate)
        #expect(o.poll, "polled completion is on unless poll=0")
        #expect(try !EndpointOptions.parse("pass=x,poll=0").poll)
        let f = try EndpointOptions.parse("file=-,,trunc")
        #expect(f.kind == .file && f.name == "-" && f.truncate && f.blockSize == nil)
    }

    @Test("bad lists fail with a message naming the field", arguments: [
        ("file=x,bs=0", "larger than 0"),
        ("file=x,bs=12q", "not a size"),
        ("file=x,colour=blue", "Unrecognized parameter colour=blue"),
        ("bs=4k", "names no device"),
        ("file=x,pass=y", "more than one device"),
        ("file=x,depth=0", "queue depth"),
        ("file=x,mcs=7", "minimum cmd size"),
        ("file=", "Empty I/O parameter value"),
        ("file=x,direct=maybe", "direct=maybe"),
        ("pass=x,poll=sometimes", "poll=sometimes"),
    ])
    func badLists(text: String, expected: String) {
        do {
            _ = try EndpointOptions.parse(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.code == .badArgument)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}

@Suite("CAMDDError codes")
struct CAMDDErrorCodeTests {
    @Test("each code keeps its spelling, and a spelling gives back its code")
    func spellings() {
        let codes: [(CAMDDError.Code, String)] = [
            (.badArgument, "bad-argument"), (.openFailed, "open-failed"), (.probeFailed, "probe-failed"),
            (.unsupported, "unsupported"), (.systemCall, "system-call"), (.ioFailed, "io-failed"),
        ]
        for (code, text) in codes {
            #expect(code.rawValue == text)
            #expect(CAMDDError.Code(rawValue: text) == code)
        }
        #expect(Set(codes.map(\.0)).count == codes.count)
    }
}
