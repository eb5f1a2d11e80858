//! A real S3-compatible server for the storage tests: moto on loopback, started once per
//! test binary, one bucket, a fresh prefix per test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use reel_core::secret::Secret;
use reel_core::storage::StorageOptions;

/// The bucket every S3 test uses, each under its own prefix.
pub const BUCKET: &str = "reel-test";

/// The moto server shared by the test binary; it exits when this process does, because
/// its launcher waits on a stdin pipe that closes with us.
pub struct Moto {
    _launcher: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// Starts moto once. Fails (never skips) when it is not installed.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let python = std::env::var("REEL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        // Moto's output goes to a log file, never to a pipe nobody reads: a full pipe
        // would block the server mid-test.
        let log_path = std::env::temp_dir().join(format!("reel-moto-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).expect("moto log file");
        let launcher = "import os, sys\n\
            from moto.server import ThreadedMotoServer\n\
            s = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)\n\
            s.start()\n\
            print(s.get_host_and_port()[1], flush=True)\n\
            os.dup2(2, 1)\n\
            sys.stdin.read()\n\
            s.stop()\n";
        let mut child = Command::new(&python)
            .args(["-c", launcher])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("S3 tests need {python} with moto: pip install 'moto[server]' ({e})")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("moto launcher output");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let err = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("S3 tests need moto: pip install 'moto[server]' (moto said: {err})")
        });
        let endpoint = format!("http://127.0.0.1:{port}");
        let created = std::thread::spawn({
            let url = format!("{endpoint}/{BUCKET}");
            move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async { reqwest::Client::new().put(url).send().await })
            }
        })
        .join()
        .unwrap()
        .expect("create the test bucket");
        assert!(
            created.status().is_success(),
            "bucket: {}",
            created.status()
        );
        Moto {
            _launcher: child,
            endpoint,
        }
    })
}

/// Storage options for a fresh prefix of the moto bucket, and that prefix.
pub fn s3_storage(data_dir: &std::path::Path) -> (StorageOptions, String) {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let options = StorageOptions {
        url: Some(format!("s3://{BUCKET}/{prefix}")),
        data_dir: data_dir.to_owned(),
        s3_endpoint: Some(moto().endpoint.clone()),
        s3_region: Some("us-east-1".into()),
        s3_access_key_id: Some("testing".into()),
        s3_secret_access_key: Some(Secret::new("testing".into())),
    };
    (options, prefix)
}

/// Multipart uploads in progress in the test bucket under `prefix` (moto answers
/// unsigned requests). A listing that fails fails the test: an error is not "none".
pub async fn multipart_uploads(prefix: &str) -> usize {
    let url = format!("{}/{BUCKET}?uploads&prefix={prefix}", moto().endpoint);
    let res = reqwest::get(url).await.expect("moto answers");
    let status = res.status();
    let xml = res.text().await.expect("a whole listing");
    assert!(
        status.is_success(),
        "listing multipart uploads: {status}: {xml}"
    );
    assert!(
        xml.contains("<ListMultipartUploadsResult"),
        "not a multipart upload listing: {xml}"
    );
    xml.matches("<Upload>").count()
}
