use super::*;
use crate::ffmpeg::probe::{AudioStream, VideoStream};

fn probe(codec: &str, width: u32, height: u32, audio: Option<&str>) -> Probe {
    Probe {
        duration_ms: Some(60_000),
        video: Some(VideoStream {
            codec: codec.into(),
            profile: Some("High".into()),
            pix_fmt: Some("yuv420p".into()),
            level: Some(40),
            width,
            height,
            rotation: 0,
            sample_aspect: None,
        }),
        audio: audio.map(|c| AudioStream {
            codec: c.into(),
            profile: Some("LC".into()),
        }),
    }
}

fn names(plan: &Plan) -> Vec<&str> {
    plan.rungs.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn the_ladder_never_upscales_and_stops_at_1080p() {
    let p = Plan::new(&probe("vp9", 3840, 2160, Some("opus"))).unwrap();
    assert_eq!(names(&p), ["360p", "720p", "1080p"]);
    assert_eq!(p.rungs[2].size, Some((1920, 1080)));
    assert!(!p.remuxes());
    assert_eq!(p.audio, AudioPlan::Encode);

    let p = Plan::new(&probe("h264", 1280, 720, Some("aac"))).unwrap();
    assert_eq!(names(&p), ["360p", "720p"]);
    assert!(p.remuxes());
    assert_eq!(p.audio, AudioPlan::Copy);

    let p = Plan::new(&probe("vp9", 640, 480, None)).unwrap();
    assert_eq!(names(&p), ["360p", "480p"]);
    assert_eq!(p.rungs[0].size, Some((480, 360)));

    let p = Plan::new(&probe("h264", 320, 240, None)).unwrap();
    assert_eq!(names(&p), ["240p"]);
    assert_eq!(p.audio, AudioPlan::None);
}

#[test]
fn portrait_video_ladders_by_its_shorter_side() {
    let p = Plan::new(&probe("hevc", 1080, 1920, Some("aac"))).unwrap();
    assert_eq!(names(&p), ["360p", "720p", "1080p"]);
    assert_eq!(p.rungs[0].size, Some((360, 640)));
    assert_eq!(p.poster_size, Some((720, 1280)));
}

#[test]
fn audio_only_gets_one_audio_rendition_and_a_waveform() {
    let mut only_audio = probe("h264", 2, 2, Some("opus"));
    only_audio.video = None;
    let p = Plan::new(&only_audio).unwrap();
    assert_eq!(names(&p), ["audio"]);
    assert_eq!(p.poster_size, None);
    let args: Vec<String> = p
        .poster_args()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    assert!(args.iter().any(|a| a.contains("showwavespic")));
}

#[test]
fn nothing_to_play_is_refused() {
    let mut empty = probe("h264", 2, 2, None);
    empty.video = None;
    assert!(matches!(Plan::new(&empty), Err(MediaError::Unusable(_))));
}

#[test]
fn the_top_rung_is_written_once_to_mp4_and_hls() {
    let p = Plan::new(&probe("vp9", 1280, 720, Some("opus"))).unwrap();
    let args: Vec<String> = p
        .main_args()
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
    let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
    assert_eq!(
        graph,
        "[0:v:0]split=2[s0][s1];[s0]scale=640:360,setsar=1,format=yuv420p[v0];\
         [s1]scale=1280:720,setsar=1,format=yuv420p[v1]"
    );
    let tee = args.iter().find(|a| a.starts_with("[f=mp4")).unwrap();
    assert!(tee.contains("out/playable.mp4|[f=hls"), "{tee}");
    assert!(tee.ends_with("out/hls/720p/index.m3u8"), "{tee}");
    assert_eq!(args.iter().filter(|a| *a == "libx264").count(), 2);
}
