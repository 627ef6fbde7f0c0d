/*
 * A softphone in C on the agent's C library (agent/include/agent.h): it owns
 * its audio, as a phone with its own sound device would, and waits for events
 * on a file descriptor, as an application's main loop would.
 *
 *   softphone --switch tls:HOST:PORT --number N --password PW [--ca FILE]
 *             [--domain D] [--tone HZ] [--expect HZ] [--frames N] [--timeout SECS]
 *             [--audio callback|pull]
 *
 * It registers, answers the first call, sends a sine of --tone Hz (440),
 * measures what it receives with the Goertzel algorithm (the agent calling
 * its capture and playout functions every 20 ms, or, with --audio pull, its
 * main loop pushing and pulling 20 ms frames at its own pace), hangs up once --frames 20 ms frames (150) have arrived,
 * stops the agent and exits 0 if the strongest of --tone and --expect (1000)
 * in what it heard was --expect; 1 otherwise, 2 on a usage or library error.
 *
 * Build: cc -Wall -Wextra -Werror -I agent/include softphone.c \
 *          target/debug/libagent_ffi.a -lpthread -ldl -lm -o softphone
 */
#include "agent.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 160 /* 20 ms at 8 kHz */
#define RATE 8000.0
#define PI 3.14159265358979323846

/* What the audio callbacks share with the main loop (they run on a media thread). */
struct audio {
    pthread_mutex_t lock;
    double tone_hz, expect_hz;
    unsigned long sent_samples; /* the sine's phase, in samples */
    unsigned long frames_heard;
    double power_tone, power_expect; /* Goertzel power summed over the frames heard */
};

/* The power of `hz` in one frame (the Goertzel algorithm). */
static double goertzel(const int16_t *x, size_t n, double hz) {
    double coeff = 2.0 * cos(2.0 * PI * hz / RATE), s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

static void capture(void *user_data, uint64_t call, int16_t *frame, size_t samples) {
    struct audio *a = user_data;
    (void)call;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < samples; i++) {
        frame[i] = (int16_t)(8000.0 * sin(2.0 * PI * a->tone_hz * (double)(a->sent_samples + i) / RATE));
    }
    a->sent_samples += samples;
    pthread_mutex_unlock(&a->lock);
}

static void playout(void *user_data, uint64_t call, const int16_t *frame, size_t samples) {
    struct audio *a = user_data;
    (void)call;
    double tone = goertzel(frame, samples, a->tone_hz), expect = goertzel(frame, samples, a->expect_hz);
    pthread_mutex_lock(&a->lock);
    a->frames_heard++;
    a->power_tone += tone;
    a->power_expect += expect;
    pthread_mutex_unlock(&a->lock);
}

static const char *arg(int argc, char **argv, const char *name, const char *otherwise) {
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return otherwise;
}

/* Says whether a call into the library failed, and how. */
static int failed(const char *what, AgentResult r) {
    if (r == AGENT_RESULT_OK) {
        return 0;
    }
    fprintf(stderr, "softphone: %s: %s\n", what, agent_result_text(r));
    return 1;
}

/* Milliseconds on a steady clock. */
static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* --audio pull: the frames due since `start` pushed (at most 10 late ones:
 * a main loop that fell behind skips, as a sound card would), then every
 * frame received pulled, through the same functions the callbacks are. */
static void pull_and_push(const Agent *agent, uint64_t call, struct audio *a, long long start, long long *pushed) {
    int16_t frame[FRAME];
    long long due = (now_ms() - start) / 20 + 1;
    if (due - *pushed > 10) {
        *pushed = due - 10;
    }
    for (; *pushed < due; (*pushed)++) {
        memset(frame, 0, sizeof frame);
        capture(a, call, frame, FRAME);
        failed("push", agent_audio_push(agent, call, frame, FRAME));
    }
    while (agent_audio_pull(agent, call, frame, FRAME) == AGENT_RESULT_OK) {
        playout(a, call, frame, FRAME);
    }
}

static unsigned long frames_heard(struct audio *a) {
    pthread_mutex_lock(&a->lock);
    unsigned long heard = a->frames_heard;
    pthread_mutex_unlock(&a->lock);
    return heard;
}

/* Waits up to `timeout_ms` for the next event, on the agent's descriptor. */
static AgentResult next_event(const Agent *agent, AgentEvent *ev, int timeout_ms) {
    struct pollfd p = {.fd = agent_event_fd(agent), .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) {
        return AGENT_RESULT_TIMEOUT;
    }
    return agent_next_event(agent, ev, 0);
}

int main(int argc, char **argv) {
    const char *sw = arg(argc, argv, "--switch", NULL), *number = arg(argc, argv, "--number", NULL);
    const char *password = arg(argc, argv, "--password", ""), *ca = arg(argc, argv, "--ca", NULL);
    const char *domain = arg(argc, argv, "--domain", NULL);
    int pull = strcmp(arg(argc, argv, "--audio", "callback"), "pull") == 0;
    unsigned long want_frames = strtoul(arg(argc, argv, "--frames", "150"), NULL, 10);
    time_t deadline = time(NULL) + atol(arg(argc, argv, "--timeout", "120"));
    struct audio audio = {.tone_hz = atof(arg(argc, argv, "--tone", "440")), .expect_hz = atof(arg(argc, argv, "--expect", "1000"))};
    if (sw == NULL || number == NULL) {
        fprintf(stderr, "usage: softphone --switch tls:HOST:PORT --number N --password PW [--ca FILE] [--domain D]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, even into a pipe */
    pthread_mutex_init(&audio.lock, NULL);

    AgentConfig *config = NULL;
    Agent *agent = NULL;
    if (failed("config", agent_config_new(&config)) || failed("--switch", agent_config_add_switch(config, sw)) ||
        failed("--number", agent_config_set_number(config, number)) ||
        failed("--password", agent_config_set_password(config, password)) ||
        (ca != NULL && failed("--ca", agent_config_set_tls_ca_file(config, ca))) ||
        (domain != NULL && failed("--domain", agent_config_set_domain(config, domain))) ||
        failed("audio", pull ? agent_config_set_app_audio_queue(config) : agent_config_set_app_audio(config, capture, playout, &audio)) ||
        failed("new", agent_new(config, &agent))) {
        agent_config_free(config);
        return 2;
    }
    agent_config_free(config); /* the agent keeps its own copy */
    if (failed("start", agent_start(agent))) {
        agent_free(agent);
        return 2;
    }

    uint64_t call = 0;
    int hung_up = 0, media = 0, status = 1;
    long long media_start = 0, pushed = 0;
    AgentEvent ev;
    for (;;) {
        AgentResult r = next_event(agent, &ev, pull ? 20 : 100);
        if (r == AGENT_RESULT_STOPPED) {
            break;
        }
        if (time(NULL) > deadline) {
            fprintf(stderr, "softphone: timed out\n");
            agent_stop(agent);
            continue;
        }
        if (pull && media) {
            pull_and_push(agent, call, &audio, media_start, &pushed);
        }
        if (call != 0 && !hung_up && frames_heard(&audio) >= want_frames) {
            hung_up = 1;
            failed("hangup", agent_hangup(agent, call));
        }
        if (r == AGENT_RESULT_TIMEOUT) {
            continue;
        }
        if (r != AGENT_RESULT_OK) {
            failed("event", r);
            break;
        }
        switch (ev.kind) {
        case AGENT_EVENT_KIND_REGISTERED:
            printf("registered local=%s\n", ev.text);
            break;
        case AGENT_EVENT_KIND_REGISTRATION_FAILED:
            printf("registration failed status=%u reason=%s\n", ev.status, ev.text);
            agent_stop(agent);
            break;
        case AGENT_EVENT_KIND_CALL_INCOMING:
            printf("incoming call=%llu from=%s\n", (unsigned long long)ev.call, ev.text);
            if (call == 0 && !failed("answer", agent_answer(agent, ev.call))) {
                call = ev.call;
            }
            break;
        case AGENT_EVENT_KIND_MEDIA_STARTED:
            printf("media started call=%llu\n", (unsigned long long)ev.call);
            media = ev.call == call;
            media_start = now_ms();
            break;
        case AGENT_EVENT_KIND_MEDIA_STOPPED:
            printf("media stopped call=%llu sent=%llu received=%llu\n", (unsigned long long)ev.call,
                   (unsigned long long)ev.packets_sent, (unsigned long long)ev.packets_received);
            media = 0;
            break;
        case AGENT_EVENT_KIND_CALL_ENDED:
            printf("call ended call=%llu %s\n", (unsigned long long)ev.call, ev.text);
            if (ev.call == call) {
                agent_stop(agent); /* unregisters; STOPPED follows */
            }
            break;
        case AGENT_EVENT_KIND_STOPPED:
            printf("stopped\n");
            break;
        default:
            break;
        }
    }

    pthread_mutex_lock(&audio.lock);
    int heard_expected = audio.frames_heard >= want_frames && audio.power_expect > 10.0 * audio.power_tone;
    printf("heard frames=%lu power_%g=%.3g power_%g=%.3g\n", audio.frames_heard, audio.expect_hz, audio.power_expect,
           audio.tone_hz, audio.power_tone);
    pthread_mutex_unlock(&audio.lock);
    agent_free(agent); /* waits for the agent's threads: no callback runs after this */
    pthread_mutex_destroy(&audio.lock);
    if (heard_expected && hung_up) {
        status = 0;
    }
    return status;
}
