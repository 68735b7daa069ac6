/* A stand-in `musiqscore` for the s2s-analyze tests only, never installed:
 * until the real element lands, it lets the tests check how the tool builds,
 * configures and reads a musiqscore (--musiq, --musiq-model,
 * --musiq-interval, the "musiq" outputs and the plot panel). It passes the
 * frames through and posts, for every `interval`-th frame since the stream
 * started, a `musiqscore` message with the fields of the s2s analysers
 * (frame, timestamp, stream-time, running-time, duration) and a made-up
 * `score` = 40 + 3.5 * (frame % 7), `status` "ok"; at EOS
 * `musiqscore-summary` with `frames` and `score-mean`, `-min`, `-max` of the
 * scores posted and `score-p95` = -1 (a value the tool can only have taken
 * from the summary). These numbers are no
 * quality measure; the tests use the plugin in a folder of its own, and only
 * while the build has no musiqscore. */
#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

#define FAKE_TYPE_MUSIQ (fake_musiq_get_type ())
G_DECLARE_FINAL_TYPE (FakeMusiq, fake_musiq, FAKE, MUSIQ, GstBaseTransform);

struct _FakeMusiq
{
  GstBaseTransform parent;
  gchar *model;
  guint interval;
  guint64 next_frame;
  guint64 scored;
  gdouble sum, min, max;
};

G_DEFINE_TYPE (FakeMusiq, fake_musiq, GST_TYPE_BASE_TRANSFORM);

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_INTERVAL,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static void
fake_musiq_set_property (GObject * object, guint id, const GValue * value, GParamSpec * pspec)
{
  FakeMusiq *self = FAKE_MUSIQ (object);
  switch (id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
fake_musiq_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  FakeMusiq *self = FAKE_MUSIQ (object);
  switch (id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
fake_musiq_finalize (GObject * object)
{
  g_free (FAKE_MUSIQ (object)->model);
  G_OBJECT_CLASS (fake_musiq_parent_class)->finalize (object);
}

static GstFlowReturn
fake_musiq_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  FakeMusiq *self = FAKE_MUSIQ (trans);
  const guint64 frame = self->next_frame++;
  if (frame % MAX (self->interval, 1) != 0)
    return GST_FLOW_OK;
  const GstSegment *seg = &trans->segment;
  const GstClockTime pts = GST_BUFFER_PTS (buf);
  GstStructure *s = gst_structure_new ("musiqscore",
      "frame", G_TYPE_UINT64, frame,
      "timestamp", G_TYPE_UINT64, pts,
      "stream-time", G_TYPE_UINT64, gst_segment_to_stream_time (seg, GST_FORMAT_TIME, pts),
      "running-time", G_TYPE_UINT64, gst_segment_to_running_time (seg, GST_FORMAT_TIME, pts),
      "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buf),
      "score", G_TYPE_DOUBLE, 40.0 + 3.5 * (double) (frame % 7),
      "status", G_TYPE_STRING, "ok", NULL);
  const gdouble score = 40.0 + 3.5 * (double) (frame % 7);
  self->min = self->scored ? MIN (self->min, score) : score;
  self->max = self->scored ? MAX (self->max, score) : score;
  self->sum += score;
  self->scored++;
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  return GST_FLOW_OK;
}

static gboolean
fake_musiq_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  FakeMusiq *self = FAKE_MUSIQ (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START)
    self->next_frame = 0;
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
            gst_structure_new ("musiqscore-summary", "frames", G_TYPE_UINT64, self->scored,
                "score-mean", G_TYPE_DOUBLE, self->scored ? self->sum / self->scored : 0.0,
                "score-min", G_TYPE_DOUBLE, self->min, "score-max", G_TYPE_DOUBLE, self->max,
                "score-p95", G_TYPE_DOUBLE, -1.0, NULL)));
  return GST_BASE_TRANSFORM_CLASS (fake_musiq_parent_class)->sink_event (trans, event);
}

static void
fake_musiq_class_init (FakeMusiqClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = fake_musiq_set_property;
  gobject_class->get_property = fake_musiq_get_property;
  gobject_class->finalize = fake_musiq_finalize;
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Ignored", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval", "Score every Nth frame", 1, G_MAXUINT, 1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata (element_class, "Test stand-in for musiqscore",
      "Filter/Analyzer/Video", "Posts made-up musiqscore messages (tests only)", "gst-s2s");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->transform_ip = fake_musiq_transform_ip;
  trans_class->sink_event = fake_musiq_sink_event;
}

static void
fake_musiq_init (FakeMusiq * self)
{
  self->interval = 1;
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  return gst_element_register (plugin, "musiqscore", GST_RANK_NONE, FAKE_TYPE_MUSIQ);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, s2sfakemusiq,
    "Test stand-in for musiqscore (s2s-analyze tests)", plugin_init, "0.0", "LGPL",
    "gst-s2s", "https://example.invalid/gst-s2s")
