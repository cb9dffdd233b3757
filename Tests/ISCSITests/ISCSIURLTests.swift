import Testing
@testable import CAMISCSI

@Suite struct ISCSIURLTests {
    @Test func parsesFullURLWithCHAPAndMasksThePassword() throws {
        let u = try ISCSIURL.parse("iscsi://alice%s3cr%3At@10.1.2.3:3261/iqn.2024-01.test%3Adisk/7", environment: [:])
        #expect(u.host == "10.1.2.3")
        #expect(u.port == 3261)
        #expect(u.target == "iqn.2024-01.test:disk")
        #expect(u.lun == 7)
        #expect(u.chap == ISCSICredentials(user: "alice", password: "s3cr%3At"))
        #expect(u.description == "iscsi://alice%***@10.1.2.3:3261/iqn.2024-01.test:disk/7")
        var dumped = ""
        dump(u, to: &dumped)
        #expect(!dumped.contains("s3cr"))
        #expect(!"\(u.chap!)".contains("s3cr"))
        #expect(!String(reflecting: u).contains("s3cr"))
    }

    @Test func defaultsAndPortalURLs() throws {
        let u = try ISCSIURL.parse("iscsi://host/iqn.x:y/0", environment: [:])
        #expect(u.port == 3260)
        #expect(u.chap == nil)
        let p = try ISCSIURL.parsePortal("iscsi://[::1]:3262", environment: [:])
        #expect(p.host == "::1")
        #expect(p.portal == "[::1]:3262")
        #expect(p.target == nil)
        let q = try ISCSIURL.parsePortal("iscsi://host/", environment: [:])
        #expect(q.target == nil && q.host == "host")
    }

    @Test func reconnectWindowArgument() throws {
        let u = try ISCSIURL.parse("iscsi://h/iqn.a:b/1?reconnect_window=3", environment: [:])
        #expect(u.reconnectWindow == .seconds(3))
        #expect(u.description == "iscsi://h:3260/iqn.a:b/1?reconnect_window=3")
        #expect(try ISCSIURL.parse(u.description, environment: [:]) == u)
        #expect(try ISCSIURL.parse("iscsi://h/iqn.a:b/1", environment: [:]).reconnectWindow == nil)
        #expect(try ISCSIURL.parse("iscsi://h/iqn.a:b/1?reconnect_window=0", environment: [:]).reconnectWindow == .seconds(0))
        for bad in ["-1", "1.5", "", "3601", "ten"] {
            #expect(throws: ISCSIError.self) { try ISCSIURL.parse("iscsi://h/iqn.a:b/1?reconnect_window=\(bad)", environment: [:]) }
        }
        do {
            _ = try ISCSIURL.parse("iscsi://h/iqn.a:b/1?reconnect_window=ten", environment: [:])
        } catch {
            #expect(error.message.contains("reconnect_window must be whole seconds from 0 to 3600, not 'ten'"))
        }
    }

    @Test func credentialsFromTheEnvironmentAndMutualCHAP() throws {
        let env = ["LIBISCSI_CHAP_USERNAME": "bob", "LIBISCSI_CHAP_PASSWORD": "pw1",
                   "LIBISCSI_CHAP_TARGET_USERNAME": "tgt", "LIBISCSI_CHAP_TARGET_PASSWORD": "pw2"]
        let u = try ISCSIURL.parse("iscsi://h/iqn.a:b/1", environment: env)
        #expect(u.chap?.user == "bob")
        #expect(u.targetChap == ISCSICredentials(user: "tgt", password: "pw2"))
        #expect(!u.description.contains("pw"))
        // The URL's user wins; its password may come from the environment.
        let v = try ISCSIURL.parse("iscsi://carol@h/iqn.a:b/1", environment: ["LIBISCSI_CHAP_PASSWORD": "pw3"])
        #expect(v.chap == ISCSICredentials(user: "carol", password: "pw3"))
        let w = try ISCSIURL.parse("iscsi://u%p@h/iqn.a:b/1?target_user=t&target_password=tp", environment: [:])
        #expect(w.targetChap == ISCSICredentials(user: "t", password: "tp"))
        #expect(w.description == "iscsi://u%***@h:3260/iqn.a:b/1?target_user=t&target_password=***")
    }

    @Test(arguments: [
        "http://h/iqn.a:b/1", "iscsi://h", "iscsi://h/iqn.a:b", "iscsi://h/iqn.a:b/x", "iscsi://h:99999/iqn.a:b/1",
        "iscsi://alice%topsecret@h:port/iqn.a:b/1", "iscsi://alice%topsecret@h/iqn/1?bogus=1",
        "iscsi://alice@h/iqn.a:b/1", "iscsi://h/iqn.a:b/1?target_user=t&target_password=topsecret",
    ])
    func badURLsFailClearlyWithoutThePassword(_ text: String) {
        do {
            _ = try ISCSIURL.parse(text, environment: [:])
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.code == .badURL)
            #expect(!error.message.contains("topsecret"))
            #expect(error.message.contains("iscsi://"))
        }
    }

    @Test func maskingURLsThatDoNotParse() {
        #expect(ISCSIURL.maskedForMessage("iscsi://a%b@c/d") == "iscsi://a%***@c/d")
        #expect(ISCSIURL.maskedForMessage("iscsi://a:b@c/d?target_password=x&y=1") == "iscsi://a:***@c/d?target_password=***&y=1")
    }

    @Test func statusBytesInLibiscsiErrors() {
        #expect(ISCSISession.statusByte(inError: "Cant handle  scsi status 8 yet.") == 8)
        #expect(ISCSISession.statusByte(inError: "Unknown SCSI status :40.") == 40)
        #expect(ISCSISession.statusByte(inError: "Cant handle  scsi status 251658242 yet.") == nil)
        #expect(ISCSISession.statusByte(inError: "command timed out") == nil)
    }

    @Test func redaction() {
        ISCSISecrets.register("hunter2")
        defer { ISCSISecrets.unregister("hunter2") }
        #expect(ISCSISecrets.redact("bad password hunter2!") == "bad password ***!")
    }
}

@Suite("ISCSIError codes")
struct ISCSIErrorCodeTests {
    @Test("each code keeps its spelling, and a spelling gives back its code")
    func spellings() {
        let codes: [(ISCSIError.Code, String)] = [
            (.badURL, "bad-url"), (.connectFailed, "connect-failed"), (.authenticationFailed, "authentication-failed"),
            (.loginFailed, "login-failed"), (.discoveryFailed, "discovery-failed"), (.badRequest, "bad-request"),
            (.queueFull, "queue-full"), (.closed, "closed"), (.systemCall, "system-call"),
            (.libraryFailure, "library-failure"),
        ]
        for (code, text) in codes {
            #expect(code.rawValue == text)
            #expect(ISCSIError.Code(rawValue: text) == code)
        }
        #expect(Set(codes.map(\.0)).count == codes.count)
    }
}
