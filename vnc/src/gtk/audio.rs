//! QEMU's audio (pseudo-encoding -259) played through GStreamer:
//! `appsrc` with the negotiated raw format → `audioconvert` →
//! `audioresample` → `autoaudiosink` (or the sink described by
//! [`AUDIO_SINK_ENV`]). Owns when audio is asked of the server and the
//! pipeline's life; without the crate's `audio` feature it only says that
//! audio was left out.

use std::cell::Cell;

use gtk::glib;
use gtk::subclass::prelude::*;

use super::VncDisplay;
use crate::proto::AudioFormat;

/// A GStreamer bin description used instead of `autoaudiosink`, e.g.
/// `"filesink location=/tmp/out.raw"` in tests.
pub const AUDIO_SINK_ENV: &str = "PORTHOLE_AUDIO_SINK";

/// The audio side of the widget.
#[derive(Debug, Default)]
pub struct AudioOutput {
    /// QEMU acknowledged audio on this connection.
    supported: Cell<bool>,
    /// Audio was asked of the server (and not stopped since).
    requested: Cell<bool>,
    #[cfg(feature = "audio")]
    player: std::cell::RefCell<Option<player::Player>>,
}

impl AudioOutput {
    /// The connection ended.
    pub fn reset(&self) {
        self.supported.set(false);
        self.requested.set(false);
        self.stop();
    }

    fn stop(&self) {
        #[cfg(feature = "audio")]
        if let Some(player) = self.player.take() {
            player.finish();
        }
    }
}

/// QEMU acknowledged audio: ask for it if the widget wants it.
pub fn supported(display: &VncDisplay) {
    display.imp().audio.supported.set(true);
    apply(display);
}

/// Starts or stops audio on the server to match `audio-enabled`.
pub fn apply(display: &VncDisplay) {
    let audio = &display.imp().audio;
    let wanted = display.audio_enabled() && cfg!(feature = "audio");
    if display.audio_enabled() && !cfg!(feature = "audio") {
        glib::g_warning!(
            "porthole-vnc",
            "this build of porthole-vnc has no audio; build it with the `audio` feature"
        );
    }
    let Some(handle) = display.handle() else {
        return;
    };
    if !audio.supported.get() || wanted == audio.requested.get() {
        return;
    }
    if wanted {
        handle.audio_set_format(AudioFormat::default());
    } else {
        audio.stop();
    }
    handle.audio_enable(wanted);
    audio.requested.set(wanted);
}

/// The server starts a stream in `format`.
pub fn started(display: &VncDisplay, format: AudioFormat) {
    let audio = &display.imp().audio;
    if !audio.requested.get() {
        return;
    }
    audio.stop();
    #[cfg(feature = "audio")]
    match player::Player::start(format) {
        Ok(player) => {
            audio.player.replace(Some(player));
        }
        Err(error) => glib::g_warning!("porthole-vnc", "cannot play the remote audio: {error}"),
    }
    #[cfg(not(feature = "audio"))]
    let _ = format;
}

/// Samples of the running stream.
pub fn data(display: &VncDisplay, samples: Vec<u8>) {
    #[cfg(feature = "audio")]
    if let Some(player) = display.imp().audio.player.borrow().as_ref() {
        player.push(samples);
    }
    #[cfg(not(feature = "audio"))]
    let _ = (display, samples);
}

/// The server ended the stream.
pub fn stopped(display: &VncDisplay) {
    display.imp().audio.stop();
}

#[cfg(feature = "audio")]
mod player {
    use std::cell::RefCell;
    use std::rc::Rc;

    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;
    use gtk::glib;

    use super::AUDIO_SINK_ENV;
    use crate::proto::{AudioFormat, SampleFormat};

    /// One running pipeline, for one stream.
    #[derive(Debug)]
    pub struct Player {
        pipeline: gst::Pipeline,
        source: gst_app::AppSrc,
    }

    /// GStreamer's name of a sample format (QEMU sends little-endian).
    fn caps_format(sample: SampleFormat) -> &'static str {
        match sample {
            SampleFormat::U8 => "U8",
            SampleFormat::S8 => "S8",
            SampleFormat::U16 => "U16LE",
            SampleFormat::S16 => "S16LE",
            SampleFormat::U32 => "U32LE",
            SampleFormat::S32 => "S32LE",
        }
    }

    /// Audio queued for playing at most: seconds of any format QEMU sends
    /// (48 kHz stereo 32-bit is 384 KB a second).
    const MAX_QUEUED: u64 = 1 << 20;

    impl Player {
        pub fn start(format: AudioFormat) -> Result<Self, glib::Error> {
            gst::init()?;
            let caps = gst::Caps::builder("audio/x-raw")
                .field("format", caps_format(format.sample))
                .field("layout", "interleaved")
                .field("rate", i32::try_from(format.frequency).unwrap_or(i32::MAX))
                .field("channels", i32::from(format.channels))
                .build();
            let source = gst_app::AppSrc::builder()
                .caps(&caps)
                .format(gst::Format::Time)
                .is_live(true)
                .do_timestamp(true)
                .max_bytes(MAX_QUEUED)
                .build();
            let convert = make("audioconvert")?;
            let resample = make("audioresample")?;
            let sink = match std::env::var(AUDIO_SINK_ENV) {
                Ok(description) => gst::parse::bin_from_description(&description, true)?.upcast(),
                Err(_) => make("autoaudiosink")?,
            };
            let pipeline = gst::Pipeline::new();
            let elements = [source.upcast_ref(), &convert, &resample, &sink];
            pipeline.add_many(elements).map_err(bool_error)?;
            gst::Element::link_many(elements).map_err(bool_error)?;
            pipeline
                .set_state(gst::State::Playing)
                .map_err(|e| glib::Error::new(gst::CoreError::StateChange, &e.to_string()))?;
            Ok(Self { pipeline, source })
        }

        pub fn push(&self, samples: Vec<u8>) {
            // appsrc only signals "enough data" and keeps queuing: a server
            // sending faster than the sink plays (or a stalled sink) would
            // grow it without bound. Past the limit, samples are dropped.
            if self.source.current_level_bytes() >= MAX_QUEUED {
                return;
            }
            // A flushing or failed pipeline refuses buffers; its error
            // reaches the bus, and the next stream starts a new one.
            let _ = self
                .source
                .push_buffer(gst::Buffer::from_mut_slice(samples));
        }

        /// Plays out what is queued, then stops the pipeline (from the bus,
        /// on the main loop, so nothing here waits).
        pub fn finish(self) {
            let Some(bus) = self.pipeline.bus() else {
                let _ = self.pipeline.set_state(gst::State::Null);
                return;
            };
            let pipeline = self.pipeline.clone();
            // The watch's guard is kept by the watch itself and dropped
            // when it has seen the end.
            let guard = Rc::new(RefCell::new(None));
            let own_guard = Rc::clone(&guard);
            let watch = bus.add_watch_local(move |_, message| match message.view() {
                gst::MessageView::Eos(_) | gst::MessageView::Error(_) => {
                    let _ = pipeline.set_state(gst::State::Null);
                    own_guard.take();
                    glib::ControlFlow::Break
                }
                _ => glib::ControlFlow::Continue,
            });
            match watch {
                Ok(watch) => {
                    guard.replace(Some(watch));
                    let _ = self.source.end_of_stream();
                }
                Err(_) => {
                    let _ = self.pipeline.set_state(gst::State::Null);
                }
            }
        }
    }

    fn make(factory: &str) -> Result<gst::Element, glib::Error> {
        gst::ElementFactory::make(factory).build().map_err(|_| {
            glib::Error::new(
                gst::CoreError::MissingPlugin,
                &format!("GStreamer has no {factory}; install its base plugins"),
            )
        })
    }

    fn bool_error(error: glib::BoolError) -> glib::Error {
        glib::Error::new(gst::CoreError::Failed, &error.to_string())
    }
}
