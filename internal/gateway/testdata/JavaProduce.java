// Produces records FROM..TO-1 with the Java producer (kafka-clients,
// idempotent by default): record i goes to partition i % 3 with key
// "k<i % 7>" and value "<i>", like the Go tests' rec(i). Exits 1 on any
// delivery error.
//
// usage: java -cp 'LIB/*' JavaProduce.java BOOTSTRAP TOPIC FROM TO
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaProduce {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("acks", "all");
        props.put("enable.idempotence", "true");
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        String topic = args[1];
        int from = Integer.parseInt(args[2]), to = Integer.parseInt(args[3]);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = from; i < to; i++) {
                fs.add(p.send(new ProducerRecord<>(topic, i % 3, "k" + (i % 7), Integer.toString(i))));
            }
            p.flush();
            for (Future<RecordMetadata> f : fs) {
                f.get();
            }
        }
        System.out.println("delivered " + (to - from));
    }
}
