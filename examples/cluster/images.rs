//! Demo images for the reference assembly: small programs that behave like
//! the images the seed manifests name, so those manifests run as written on
//! `ProcessRuntime` with no registry and nothing installed.
//!
//! Each image is this binary run as `cluster --image NAME [ARGS]`; the
//! assembly registers them in the runtime's image catalog under the seed
//! names (see [`IMAGES`]). To add your own, register any executable:
//!
//! ```text
//! runtime.catalog().register(
//!     "example.com/hello",
//!     ImageEntry::executable("/usr/local/bin/hello", ["--port", "8080"]),
//! );
//! ```
//!
//! What the programs rely on from the runtime: `HOSTNAME` (the pod's name),
//! `POD_IP` (the address to bind to when pods share the host's network) and
//! `KEELSON_ROOT` (where the container's volume mounts appear when it is a
//! plain host process; absent paths are taken as they are).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The images the assembly registers: (reference, program name).
pub const IMAGES: &[(&str, &str)] = &[
    ("luksa/kubia", "kubia"),
    ("luksa/kubia:latest", "kubia"),
    ("luksa/kubia:v1", "kubia-v1"),
    ("luksa/kubia:v2", "kubia-v2"),
    ("luksa/kubia:v3", "kubia-v3"),
    ("luksa/kubia-pet", "kubia-pet"),
    ("luksa/batch-job", "batch-job"),
    ("luksa/ssd-monitor", "ssd-monitor"),
    ("luksa/fortune", "fortune"),
    ("nginx", "nginx"),
    ("nginx:latest", "nginx"),
    ("nginx:alpine", "nginx"),
];

/// Runs the image named by `--image NAME` when the process was started as
/// one; `None` when it is the assembly itself.
pub fn run_if_image() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--image")?;
    let name = args.get(at + 1).cloned().unwrap_or_default();
    let rest = args.get(at + 2..).unwrap_or_default().to_vec();
    Some(match run(&name, &rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    })
}

fn run(name: &str, args: &[String]) -> std::io::Result<()> {
    match name {
        "kubia" => kubia(None),
        "kubia-v1" => kubia(Some("v1")),
        "kubia-v2" => kubia(Some("v2")),
        "kubia-v3" => kubia(Some("v3")),
        "kubia-pet" => kubia_pet(),
        "batch-job" => batch_job(),
        "ssd-monitor" => ssd_monitor(),
        "fortune" => fortune(args),
        "nginx" => nginx(),
        other => Err(std::io::Error::other(format!("no demo image {other:?}"))),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A path inside the container: under `KEELSON_ROOT` when the runtime
/// gives one and it holds the path, else the path itself.
fn container_path(path: &str) -> PathBuf {
    if let Ok(root) = std::env::var("KEELSON_ROOT") {
        let under = Path::new(&root).join(path.trim_start_matches('/'));
        if under.exists() {
            return under;
        }
    }
    PathBuf::from(path)
}

fn listen(port: u16) -> std::io::Result<TcpListener> {
    let ip = std::env::var("POD_IP")
        .ok()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    TcpListener::bind(SocketAddr::new(ip, port))
}

fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    keelson::api::Time::from_unix_seconds(secs as i64).to_string()
}

/// One parsed HTTP/1.1 request: method, path, body.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok(Request { method, path, body })
}

fn respond(mut stream: &TcpStream, code: u16, content_type: &str, body: &[u8]) {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Serves each connection on its own thread.
fn serve(
    port: u16,
    handler: impl Fn(&TcpStream, Request) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let listener = listen(port)?;
    println!("{} listening on {}", timestamp(), listener.local_addr()?);
    let handler = std::sync::Arc::new(handler);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if let Ok(request) = read_request(&stream) {
                handler(&stream, request);
            }
        });
    }
    Ok(())
}

/// `luksa/kubia`: HTTP on 8080 answering "You've hit <pod name>"; the
/// versioned tags answer "This is vN running in pod <pod name>".
fn kubia(version: Option<&'static str>) -> std::io::Result<()> {
    println!("Kubia server starting...");
    let host = hostname();
    serve(8080, move |stream, _request| {
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |a| a.ip().to_string());
        println!("Received request from {peer}");
        let answer = match version {
            None => format!("You've hit {host}\n"),
            Some(v) => format!("This is {v} running in pod {host}\n"),
        };
        respond(stream, 200, "text/plain", answer.as_bytes());
    })
}

/// `luksa/kubia-pet`: GET answers with the data stored on this pod
/// (`/var/data/kubia.txt`), POST stores the body there.
fn kubia_pet() -> std::io::Result<()> {
    println!("Kubia server starting...");
    let host = hostname();
    let file = container_path("/var/data").join("kubia.txt");
    serve(8080, move |stream, request| {
        if request.method == "POST" {
            let _ = std::fs::write(&file, &request.body);
            println!("New data has been received and stored.");
            respond(
                stream,
                200,
                "text/plain",
                format!("Data stored on pod {host}\n").as_bytes(),
            );
        } else {
            let data =
                std::fs::read_to_string(&file).unwrap_or_else(|_| "No data posted yet".into());
            let answer = format!("You've hit {host}\nData stored on this pod: {data}\n");
            respond(stream, 200, "text/plain", answer.as_bytes());
        }
    })
}

/// `luksa/batch-job`: works a while (`BATCH_JOB_SECONDS`, 5 s by default;
/// the original image takes 120 s), then exits 0.
fn batch_job() -> std::io::Result<()> {
    let seconds = std::env::var("BATCH_JOB_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5u64);
    println!("{} Batch job starting", timestamp());
    std::thread::sleep(Duration::from_secs(seconds));
    println!("{} Finished succesfully", timestamp());
    Ok(())
}

/// `luksa/ssd-monitor`: a daemon that reports on the node's disk.
fn ssd_monitor() -> std::io::Result<()> {
    loop {
        println!("{} SSD OK", timestamp());
        std::thread::sleep(Duration::from_secs(5));
    }
}

const FORTUNES: &[&str] = &[
    "A journey of a thousand miles begins with a single step.",
    "You will be hungry again in one hour.",
    "Fortune favors the prepared mind.",
    "The early bird gets the worm, but the second mouse gets the cheese.",
    "Today is a good day to reconcile.",
    "Desired state is a state of mind.",
];

/// `luksa/fortune`: writes a fortune to `/var/htdocs/index.html` every
/// `INTERVAL` seconds (10 by default; the first argument overrides it).
fn fortune(args: &[String]) -> std::io::Result<()> {
    let interval = args
        .first()
        .cloned()
        .or_else(|| std::env::var("INTERVAL").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64);
    println!("Configured to generate new fortune every {interval} seconds");
    let dir = container_path("/var/htdocs");
    std::fs::create_dir_all(&dir)?;
    let mut n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as usize);
    loop {
        println!("{} Writing fortune to /var/htdocs/index.html", timestamp());
        let text = FORTUNES[n % FORTUNES.len()];
        std::fs::write(dir.join("index.html"), format!("{text}\n"))?;
        n += 1;
        std::thread::sleep(Duration::from_secs(interval));
    }
}

const NGINX_WELCOME: &str = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1></body></html>\n";

/// `nginx`: a static file server on 80 (`NGINX_PORT` overrides) for
/// `/usr/share/nginx/html`, with nginx's welcome page when it is empty.
fn nginx() -> std::io::Result<()> {
    let port = std::env::var("NGINX_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80u16);
    serve(port, move |stream, request| {
        let root = container_path("/usr/share/nginx/html");
        let path = request.path.split('?').next().unwrap_or("/");
        let safe: PathBuf = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".." && *p != ".")
            .collect();
        let mut file = root.join(safe);
        if file.is_dir() || path.ends_with('/') {
            file = file.join("index.html");
        }
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |a| a.ip().to_string());
        match std::fs::read(&file) {
            Ok(body) => {
                println!(
                    "{peer} - - [{}] \"{} {path}\" 200 {}",
                    timestamp(),
                    request.method,
                    body.len()
                );
                respond(stream, 200, "text/html", &body);
            }
            Err(_) if path == "/" || path == "/index.html" => {
                println!(
                    "{peer} - - [{}] \"{} {path}\" 200",
                    timestamp(),
                    request.method
                );
                respond(stream, 200, "text/html", NGINX_WELCOME.as_bytes());
            }
            Err(_) => {
                println!(
                    "{peer} - - [{}] \"{} {path}\" 404",
                    timestamp(),
                    request.method
                );
                respond(
                    stream,
                    404,
                    "text/html",
                    b"<html><body><h1>404 Not Found</h1></body></html>\n",
                );
            }
        }
    })
}
