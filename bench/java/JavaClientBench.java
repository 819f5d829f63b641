/*
 * The Java side of `npm run bench`: the same work as bench/ours.ts, done by the official
 * rocketmq-client (DefaultMQProducer, DefaultLitePullConsumer), so the figures are ratios on one
 * machine. Compiled at bench time with `javac -cp '<RocketMQ lib>/*'` into the jar cache (never
 * into the repository) and run once per mode in a fresh JVM.
 *
 * Usage: JavaClientBench <namesrv> <topic> <mode> <count> <size> [--key=value ...]
 *   mode         send-single | send-batch | pull
 *   --concurrency=N    sender threads, thread i sends to queue i % queues (default 8)
 *   --batch=N          messages per send(Collection, MessageQueue) (default 32)
 *   --pull-batch=N     DefaultLitePullConsumer pullBatchSize (default 32)
 *   --warmup-topic=T   topic for the warm-up (send: sent to it first; pull: pulled first, fully)
 *   --warmup=N         warm-up message count (default 0 = no warm-up)
 *   --deadline-ms=N    stop measuring after this long and report what was done (default 300000)
 *   --group=G          consumer group (pull; default bench_java_<pid>)
 *
 * Prints exactly one JSON line on stdout:
 *   {"mode","messages","elapsedMs","msgPerSec","mibPerSec","latencyP50Ms","latencyP99Ms",
 *    "peakRssMiB","timedOut","errors","firstError"}
 * Latency is per send call (one message, or one batch). peakRssMiB is VmHWM of this JVM.
 */
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

public final class JavaClientBench {
    private static final class Result {
        long messages;
        long elapsedNs;
        long[] latenciesNs = new long[0];
        boolean timedOut;
        long errors;
        String firstError;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: JavaClientBench <namesrv> <topic> <mode> <count> <size> [--key=value ...]");
            System.exit(2);
        }
        String namesrv = args[0];
        String topic = args[1];
        String mode = args[2];
        int count = Integer.parseInt(args[3]);
        int size = Integer.parseInt(args[4]);
        Map<String, String> opts = new HashMap<>();
        for (int i = 5; i < args.length; i++) {
            String a = args[i];
            int eq = a.indexOf('=');
            if (!a.startsWith("--") || eq < 0) throw new IllegalArgumentException("bad option " + a);
            opts.put(a.substring(2, eq), a.substring(eq + 1));
        }
        int concurrency = Integer.parseInt(opts.getOrDefault("concurrency", "8"));
        int batch = Integer.parseInt(opts.getOrDefault("batch", "32"));
        int pullBatch = Integer.parseInt(opts.getOrDefault("pull-batch", "32"));
        String warmupTopic = opts.get("warmup-topic");
        int warmup = Integer.parseInt(opts.getOrDefault("warmup", "0"));
        long deadlineMs = Long.parseLong(opts.getOrDefault("deadline-ms", "300000"));
        String group = opts.getOrDefault("group", "bench_java_" + ProcessHandle.current().pid());

        byte[] body = new byte[size];
        new Random(42).nextBytes(body);

        Result r;
        switch (mode) {
            case "send-single":
            case "send-batch": {
                boolean isBatch = mode.equals("send-batch");
                DefaultMQProducer producer = new DefaultMQProducer("bench_java_producer");
                producer.setNamesrvAddr(namesrv);
                producer.setInstanceName("bench-java-" + ProcessHandle.current().pid());
                producer.setSendMsgTimeout(10_000);
                producer.start();
                try {
                    if (warmup > 0 && warmupTopic != null) {
                        send(producer, warmupTopic, warmup, body, isBatch, batch, concurrency, deadlineMs);
                    }
                    r = send(producer, topic, count, body, isBatch, batch, concurrency, deadlineMs);
                } finally {
                    producer.shutdown();
                }
                break;
            }
            case "pull": {
                if (warmup > 0 && warmupTopic != null) {
                    pull(namesrv, group + "_warmup", warmupTopic, warmup, pullBatch, deadlineMs);
                }
                r = pull(namesrv, group, topic, count, pullBatch, deadlineMs);
                break;
            }
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }

        double seconds = r.elapsedNs / 1e9;
        long[] lat = r.latenciesNs;
        Arrays.sort(lat);
        StringBuilder out = new StringBuilder();
        out.append('{');
        out.append("\"mode\":\"").append(mode).append("\",");
        out.append("\"messages\":").append(r.messages).append(',');
        out.append("\"elapsedMs\":").append(String.format("%.1f", r.elapsedNs / 1e6)).append(',');
        out.append("\"msgPerSec\":").append(String.format("%.1f", seconds > 0 ? r.messages / seconds : 0)).append(',');
        out.append("\"mibPerSec\":")
                .append(String.format("%.2f", seconds > 0 ? r.messages * (double) size / seconds / 1048576 : 0))
                .append(',');
        out.append("\"latencyP50Ms\":").append(lat.length == 0 ? "null" : String.format("%.3f", percentile(lat, 50) / 1e6)).append(',');
        out.append("\"latencyP99Ms\":").append(lat.length == 0 ? "null" : String.format("%.3f", percentile(lat, 99) / 1e6)).append(',');
        out.append("\"peakRssMiB\":").append(String.format("%.1f", peakRssKiB() / 1024.0)).append(',');
        out.append("\"timedOut\":").append(r.timedOut).append(',');
        out.append("\"errors\":").append(r.errors).append(',');
        out.append("\"firstError\":").append(r.firstError == null ? "null" : jsonString(r.firstError));
        out.append('}');
        System.out.println(out);
        System.out.flush();
        // Client threads (netty, scheduled executors) may linger after shutdown().
        System.exit(0);
    }

    /** Nearest-rank percentile of sorted values (same definition as bench/stats.ts). */
    static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** `concurrency` threads; thread i owns queue i % queues and sends its share of `count`. */
    static Result send(DefaultMQProducer producer, String topic, int count, byte[] body, boolean isBatch,
            int batch, int concurrency, long deadlineMs) throws Exception {
        List<MessageQueue> queues = new ArrayList<>(producer.fetchPublishMessageQueues(topic));
        queues.sort(null);
        Result r = new Result();
        AtomicLong sent = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        long[][] lat = new long[concurrency][];
        int[] latN = new int[concurrency];
        long start = System.nanoTime();
        long deadline = start + deadlineMs * 1_000_000L;
        Thread[] threads = new Thread[concurrency];
        for (int t = 0; t < concurrency; t++) {
            final int ti = t;
            final int share = count / concurrency + (t < count % concurrency ? 1 : 0);
            final MessageQueue mq = queues.get(t % queues.size());
            int calls = isBatch ? (share + batch - 1) / batch : share;
            lat[t] = new long[calls];
            threads[t] = new Thread(() -> {
                int done = 0;
                while (done < share && System.nanoTime() < deadline) {
                    int n = isBatch ? Math.min(batch, share - done) : 1;
                    long t0 = System.nanoTime();
                    try {
                        if (isBatch) {
                            Collection<Message> msgs = new ArrayList<>(n);
                            for (int i = 0; i < n; i++) msgs.add(new Message(topic, body));
                            producer.send(msgs, mq);
                        } else {
                            producer.send(new Message(topic, body), mq);
                        }
                        lat[ti][latN[ti]++] = System.nanoTime() - t0;
                        sent.addAndGet(n);
                    } catch (Exception e) {
                        errors.incrementAndGet();
                        firstError.compareAndSet(null, e.toString());
                        if (errors.get() > 100) return;
                    }
                    done += n;
                }
            }, "bench-sender-" + t);
            threads[t].start();
        }
        for (Thread th : threads) th.join();
        r.elapsedNs = System.nanoTime() - start;
        r.messages = sent.get();
        r.timedOut = r.messages + errors.get() < count && System.nanoTime() >= deadline;
        r.errors = errors.get();
        r.firstError = firstError.get();
        int total = 0;
        for (int n : latN) total += n;
        r.latenciesNs = new long[total];
        int k = 0;
        for (int t = 0; t < concurrency; t++) {
            System.arraycopy(lat[t], 0, r.latenciesNs, k, latN[t]);
            k += latN[t];
        }
        return r;
    }

    /** assign() every queue, seek each to 0, poll until `count` messages arrived. */
    static Result pull(String namesrv, String group, String topic, int count, int pullBatch, long deadlineMs)
            throws Exception {
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setInstanceName("bench-java-" + ProcessHandle.current().pid());
        consumer.setPullBatchSize(pullBatch);
        consumer.setAutoCommit(false);
        consumer.start();
        Result r = new Result();
        try {
            List<MessageQueue> queues = new ArrayList<>(consumer.fetchMessageQueues(topic));
            queues.sort(null);
            long start = System.nanoTime();
            long deadline = start + deadlineMs * 1_000_000L;
            consumer.assign(queues);
            for (MessageQueue mq : queues) consumer.seek(mq, 0);
            long got = 0;
            long bytes = 0;
            while (got < count) {
                long now = System.nanoTime();
                if (now >= deadline) {
                    r.timedOut = true;
                    break;
                }
                List<MessageExt> msgs = consumer.poll(Math.max(1, Math.min(1000, (deadline - now) / 1_000_000L)));
                for (MessageExt m : msgs) bytes += m.getBody().length;
                got += msgs.size();
            }
            r.elapsedNs = System.nanoTime() - start;
            r.messages = got;
            if (bytes < 0) System.err.println(bytes); // keeps the body reads from being optimized away
        } finally {
            consumer.shutdown();
        }
        return r;
    }

    /** VmHWM (peak resident set) of this process in KiB, or 0 where /proc is missing. */
    static long peakRssKiB() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.UTF_8)) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (Exception e) {
            // not Linux: no figure
        }
        return 0;
    }

    static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
