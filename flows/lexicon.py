"""The router's built-in vocabulary: English, Spanish, Portuguese, Indonesian (with its chat spellings:
"sy", "blm", "gak", "kak", "min"), and Hindi in Latin script ("Hinglish") and in Devanagari.

Data only; `flows.nlu` compiles it. A cue is a string of items matched against the words of a
message after `flows.nlu.normalise` (lower case, no accents, no punctuation):

- `word`        the word itself, or a typo of it (longer words only), or it with letters doubled
                or elongated (`hiiii`, `thankss`): words are compared with runs of a letter squashed
- `stem*`       any word starting with the stem (`recom*`: recommend, recomienda, recomendação)
- `@class`      any word of a class below (`@order`: order, pedido, encomenda, parcel, ...)
- `a|b|c`       any of these words
- `a b`         the next item must follow at once; `a .. b`: up to three other words may come between

A message's score for an intent is the sum of its non-overlapping cues' weights (each cue once); the
highest score of at least LIGHT wins, with ties going to the intent whose cues cover more words.
Greeting cues count only among the first words: mid-sentence "hi" is a Hindi particle.

Every entry, Devanagari included, goes through the same normalisation as a message, so it may be written
with its nuktas and candrabindus ("ज़्यादा", "कहाँ"). Devanagari words take no typos: they match as written,
or through a stem. Regular expressions on Devanagari write word edges as `(?<!\\S)` and `(?!\\S)`: `\\b`
would also fall before a vowel sign ("बंद" in "बंदा").
"""
from __future__ import annotations

STRONG, MEDIUM, LIGHT, HINT = 3.0, 2.0, 1.0, 0.5

# Word classes. Function-word classes (FUNCTION_CLASSES) are matched exactly, never as typos:
# "there" must not become "where", nor "that" "what".
CLASSES: dict[str, str] = {
    "neg": "not no nao nahi nahin nai nhi nahee never nunca hasnt havent hadnt didnt dont doesnt isnt wasnt wont cant "
           "aint "
           "belum blm blom tidak tdk gak ga gk nggak ngga enggak engga ndak "
           "नहीं नही नहि",
    "my": "my mi mis meu minha meus minhas mera meri mere hamara humara apna apni "
          "saya sy aku gue gw "
          "मेरा मेरी मेरे हमारा हमारी अपना अपनी",
    "where": "where wheres whereabouts donde dnd onde aonde cade kahan kaha kha kidhar kithe "
             "dimana dmn dmana "
             "कहां कहा किधर",
    "when": "when whens cuando quando qdo qnd qndo kab kb "
            "kapan kpn kapn "
            "कब",
    "which": "which cual cuales qual quais kaunsa konsa kaunsi konsi kaun kon "
             "कौन कौनसा कौनसी",
    "want": "want wanna need like quiero queria quisiera necesito quero gostaria preciso chahiye chaiye chahie chahta "
            "chahti "
            "ingin pengen pingin butuh "
            "चाहिए चाहिये चाहता चाहती",
    "buy": "buy buying bought order purchase pedir pido pide comprar compro compra mangana mangwana mangwao mangao "
           "mangwa lena lelo lu lun loon kharidna kharidu khareedna khareedu "
           "beli pesan pesen "
           "ऑर्डर आर्डर मंगवाना मंगाना मंगवाओ मंगाओ मंगवा मंगा लेना लेनी खरीदना खरीदनी खरीदूं खरीदू",
    "send": "send sending ship mandar manda mande manden mandem enviar envia envie envien bhejo bhej bhejdo bhejna "
            "bhejiye "
            "kirim kirimin kirimkan "
            "भेजो भेज भेजना भेजिए भेजिये भेजदो",
    "same": "same mismo misma mismos mesmo mesma mesmos igual iguales iguais wahi wohi vahi vohi usual identical "
            "वही वोही वैसा वैसी वैसे",
    "last": "last previous anterior ultimo ultima pichli pichla pichle pichhli pichhla "
            "पिछली पिछला पिछले",
    "ago": "ago hace faz atras pehle pahle "
           "lalu "
           "पहले",
    "nothing": "nothing nada",
    "ack": "ok okay okey okie k cool great perfect perfecto perfeito perfeita genial vale dale listo beleza blz otimo "
           "excelente nice awesome super entendido entendi theek thik thk accha acha achha emoji_ok "
           "oke oce sip siap baik "
           "ओके ठीक अच्छा",
    # content classes: typos allowed
    "order": "order* ordr oder pedido pedidos orden ordenes encomenda encomendas compra compras package packages pkg "
             "parcel parcels shipping paquete paquetes pacote pacotes delivery deliveries shipment shipments envio "
             "envios entrega entregas stuff purchase purchases saman samaan item items emoji_package emoji_truck "
             "pesanan* orderan* paket* barang* kiriman* pengiriman* kurir "
             "ऑर्डर* आर्डर* ओर्डर* ऑडर* पार्सल* पैकेज* सामान डिलीवरी शिपमेंट कूरियर",
    "arrive": "arrive arrived arrives arriving arrival come coming came comes reach reached reaching deliver delivered "
              "delivering receive received receiving recibi recibido recibir llega llegar llego llegado llegara llegue "
              "llegaron lleg* cheg* recebi recebido receber entreg* aaya aayega ayega aega aaega aayegi ayegi aegi "
              "aayi aai aaye milega mila mili milegi milenge pahunch* pahuch* pohoch* pohonch* ship shipped dispatch* "
              "despach* enviado enviada enviaron enviaste enviou enviaram sent "
              "sampai sampe nyampe nyampai tiba datang dateng diterima nerima dikirim terkirim "
              "आएगा आयेगा आएगी आयेगी आया आई आयी आये आए मिला मिली मिलेगा मिलेगी मिले पहुंच* डिलीवर* भेजा भेजी शिप*",
    "track": "track* rastre* seguimiento seguimento guia awb "
             "resi lacak* "
             "ट्रैक* ट्रेक*",
    "status": "status estado situacion situacao update updates news noticias novedades novidades info "
              "kabar "
              "स्टेटस अपडेट",
    "wait": "waiting wait waited esperando esperar espero aguardando aguardo intezaar intezar intazar "
            "nunggu menunggu tunggu nungguin "
            "इंतजार इंतेजार",
    "ordered": "ordered pedi compre comprei encomendei "
               "dipesan "
               "मंगाया मंगवाया खरीदा",
    "unit": "bag bags box boxes pack packs packet packets bottle bottles jar jars can cans tin refill caja cajas bolsa "
            "bolsas botella botellas frasco frascos paquetito caixa caixas saco sacos pacotinho garrafa garrafas pote "
            "potes dabba dabbe bottal "
            "botol kotak bungkus dus kardus toples pouch sachet "
            "बोतल डिब्बा डिब्बे पैकेट बैग",
    "again": "again dobara dubara doobara phir fir firse phirse novamente nuevamente "
             "दोबारा दुबारा फिर फिरसे",
    "repeat": "repeat* repet* repit* "
              "रिपीट*",
    "talk": "talk talking speak speaking chat hablar habla hable platicar falar fala conversar baat bat "
            "bicara berbicara ngobrol ngomong "
            "बात बातचीत",
    "agent": "human humans humano humana humanos agent agents agente agentes representative representante rep operator "
             "operador operadora atendente attendant asesor asesora executive ejecutivo staff manager supervisor "
             "gerente insaan insan "
             "manusia petugas cs "
             "इंसान एजेंट मैनेजर",
    "someone": "person persona personas pessoa pessoas someone somebody anyone alguien alguem kisi banda aadmi people "
               "gente team equipo equipe "
               "orang "
               "किसी आदमी व्यक्ति",
    "call": "call calls calling llamar llamen llame llamada llamame ligar liga ligue ligacao phone telefono telefone "
            "telepon telpon telp tlp nelpon nelfon "
            "कॉल फोन",
    "connect": "connect connecting transfer transferir transfere transfira transfiere transfiera transfiereme pasame "
               "pasa pasen passa passar comunicar comunica comunican comuniquen "
               "hubungkan sambungkan sambungin hubungi hubungin",
    "help": "help ayuda ayudame ajuda ajude madad "
            "bantu bantuin bantuan "
            "मदद सहायता",
    "recommend": "recomen* recomien* recoman* recomand* suggest* sugest* suger* sugier* aconsej* consej* indica* sujhav* sujhao advice "
                 "advise* "
                 "rekomen* rekom* saran sarankan saranin disarankan menyarankan nyaranin "
                 "सुझा* सलाह रिकमें* रेकमें* रिकमं* रेकमं* सजेस्ट* सजेशन*",
    "gift": "gift gifts gifting regalo regalos regalar presente presentes present prenda tohfa tofa emoji_gift "
            "kado hadiah "
            "गिफ्ट तोहफा तोफा उपहार",
    "best": "best better mejor mejores melhor melhores badhiya behtar bestseller "
            "terbaik terlaris "
            "बेस्ट बढिया बेहतर",
    "choose": "choose choosing pick decide elegir escoger escolher decidir "
              "pilih milih memilih pilihin "
              "चुन*",
    "sale": "sale sales discount* descuent* descont* promo* ofer* offer offers oferta ofertas deal deals coupon* "
            "cupon* cupom* voucher* rebaja* liquida* saldao clearance cashback chhoot chhut "
            "diskon* potongan kupon* "
            "सेल डिस्काउंट* छूट ऑफर* कूपन* प्रोमो* डील* कैशबैक वाउचर*",
    "cheap": "cheap cheaper cheapest barato baratos barata baratas affordable sasta saste sasti "
             "murah "
             "सस्ता सस्ती सस्ते",
    "thanks": "thanks thank thanx thnx thx tnx tks thks ty tysm tyvm thankyou thanku thanq thnku cheers appreciate* "
              "grateful gracias grax grcs agradec* agradez* obrigad* brigad* obg obgd vlw valeu dhanyavad dhanyawad "
              "dhanyabad shukriya shukria sukriya "
              "makasih makasi mksh mks trims trimakasih terimakasih tq tengkyu suwun nuwun nuhun "
              "धन्यवाद धन्यबाद शुक्रिया सुक्रिया थैंक्यू थैंकयू थैंक्स थेंक्स थैंकू",
    "bye": "bye goodbye adios chao chau tchau ciao alvida "
           "dadah "
           "बाय अलविदा",
    "greet": "hi hello helo hallo hey heya heyo hiya howdy hola holi holis ola oi oie opa namaste namastey namaskar pranam "
             "salaam salam gm emoji_wave "
             "halo hei "
             "नमस्ते नमस्कार प्रणाम सुप्रभात हैलो हेलो हलो हाय",
}

FUNCTION_CLASSES = frozenset({"neg", "my", "where", "when", "which", "want", "buy", "send", "last", "ago", "nothing",
                              "ack"})

CUES: dict[str, list[tuple[str, float]]] = {
    "order_status": [
        ("@where .. @order", STRONG), ("@order .. @where", STRONG), ("@where .. @my", 2.5),
        ("@when .. @arrive", MEDIUM), ("@arrive .. @when", MEDIUM), ("@when .. @order", 2.5), ("@order .. @when", 2.5),
        ("@order .. @arrive", 2.5), ("@arrive .. @order", MEDIUM), ("@neg .. @arrive", STRONG), ("@track", STRONG),
        ("status", 1.5), ("@status .. @order", STRONG), ("@order .. @status", STRONG), ("@wait .. @order", STRONG),
        ("still waiting", 2.5), ("@my .. @order", MEDIUM), ("@order", 0.75), ("@ordered .. @ago", MEDIUM),
        ("@ago .. @ordered", MEDIUM), ("@ago .. @order", 1.5), ("@ordered .. @nothing", 2.5),
        ("@ordered .. @neg", MEDIUM), ("@ago .. @nothing", MEDIUM), ("@order .. @nothing", 1.5), ("@neg @order", 1.5),
        ("placed|hice|fiz|realice|realizei|made .. @order", 1.5), ("@order kiya|kia|kara|diya", LIGHT),
        ("@neg .. got|gotten", MEDIUM), ("foi|fue|was|been|did|ja|already|ya .. @arrive", 1.5),
        ("@arrive .. hua|hui|gaya|gayi|hoga|hogi|kya", 1.5), ("out for delivery", STRONG), ("on its|the way", 1.5),
        ("says|dice|diz|shows|marked|marcado .. delivered|entregado|entregue", MEDIUM), ("en|a camino|caminho", 1.5),
        ("raste|rastey|raaste mein|me", 1.5), ("previsao|prevision|estimated|expected .. @order|@arrive", 2.5),
        ("@order .. kya hua", 2.5), ("happened .. @order", 2.5), ("paso|aconteceu con|com .. @order", 2.5),
        ("any update|news", MEDIUM), ("@status", HINT), ("@arrive", HINT), ("eta", MEDIUM),
        ("@order|ship|dispatch|delivery .. date|fecha|data|tarikh", MEDIUM), ("how long .. @arrive", 2.5),
        ("cuanto tarda|demora", MEDIUM), ("quanto tempo .. @arrive", 2.5), ("kitne din", 1.5),
        ("delay*|late|retras*|atras*|atrasado", 1.5), ("abhi tak", LIGHT), ("ainda nao", LIGHT),
        ("todavia no|nada", LIGHT), ("not yet", LIGHT), ("@order .. kaha|kahan|kidhar tak", LIGHT),
        # Indonesian
        ("sampai|sampe|nyampe|nyampai mana", STRONG), ("@order saya|sy|aku|gue|gw", MEDIUM),
        ("@arrive .. belum|blm|blom", MEDIUM), ("sudah|udah|udh|sdh .. @arrive", 1.5), ("masih .. @wait", 2.5),
        ("cek|ngecek|check .. @order|@track|status", MEDIUM), ("gimana|gmn|bagaimana .. @order", MEDIUM),
        ("kok lama|lambat", 1.5), ("lama banget|bgt|bngt|sekali", 1.5), ("telat|terlambat", 1.5),
        # Hindi in Devanagari
        ("@arrive .. हुआ|हुई|गया|गयी|गई|होगा|होगी|क्या", 1.5), ("@order .. क्या हुआ", 2.5), ("स्टेटस", 1.5),
        ("रास्ते में", 1.5), ("कितने दिन", 1.5), ("देर|लेट|डिले", 1.5), ("अभी तक", LIGHT),
        ("@order .. कहां|कहा|किधर तक", LIGHT),
    ],
    "reorder": [
        ("reorder|reordering|reordered|repurchase|rebuy|recompr*", STRONG), ("buy back", MEDIUM), ("re order", STRONG),
        ("@buy .. @again", STRONG), ("@again .. @buy", STRONG), ("@buy .. de nuevo|novo", STRONG),
        ("@buy .. otra|outra vez", STRONG), ("volver|voltar a @buy", STRONG), ("@same .. @again", STRONG),
        ("@again .. @same", STRONG), ("@same .. @order", STRONG), ("@order .. @same", 2.5),
        ("@repeat .. @order", STRONG), ("@order .. @repeat", STRONG), ("@repeat", MEDIUM), ("@same .. @last", STRONG),
        ("@last .. @order", 1.5), ("@last baar|bar|time|vez", 1.5), ("@last .. @buy", MEDIUM), ("last time", LIGHT),
        ("otra|outra vez", LIGHT), ("de nuevo|novo", LIGHT),
        ("@again", LIGHT), ("one more time", LIGHT), ("@same", LIGHT), ("my|the|mi|meu|o usual", MEDIUM),
        ("lo|o|el|mi|meu|a de siempre|sempre", MEDIUM), ("de siempre|sempre", 1.5), ("as usual", LIGHT),
        ("hamesha|humesha wala|wali", MEDIUM), ("running|run|ran low|out", 2.5), ("refill*", 2.5),
        ("restock*|replenish*", 1.5), ("repon*", 2.5), ("another one", MEDIUM), ("@send .. another", MEDIUM),
        ("@send .. @same", MEDIUM), ("one more", 1.5), ("otra|otro|outra|outro .. igual", 2.5), ("mais um|uma", 1.5),
        ("uno|una mas", 1.5), ("ek aur", 1.5), ("acabou|acabo|termino", MEDIUM), ("khatam", MEDIUM),
        ("@want .. outro|outra|otro|otra", 1.5), ("another|otra|otro|outra|outro|aur|more|mas|mais .. @unit", MEDIUM),
        ("@unit .. more|mas|mais|aur", 1.5), ("more|mas|mais .. @same", 2.5), ("@send .. more|mas|mais|aur", 1.5),
        ("almost|casi|quase|nearly|running|about .. finished|out|over|empty|gone|acabando|terminando|khatam", MEDIUM),
        # Indonesian: "lagi" is also "now" ("lagi promo?"), "sama" also "with", so they count only in phrases
        ("@buy lagi", STRONG), ("@buy .. lagi", MEDIUM), ("pesan|pesen|order|beli ulang", STRONG),
        ("yang|yg sama", MEDIUM), ("kayak|kaya|kyk|kek|seperti|spt .. kemarin|kemaren|kmrn|sebelumnya|terakhir", STRONG),
        ("yang|yg|kayak|kaya|seperti biasa|biasanya", MEDIUM), ("satu|1|se lagi", 1.5),
        ("tambah|nambah|tambahin .. lagi", MEDIUM), ("tambah|nambah|tambahin .. @unit", MEDIUM), ("@unit lagi", 1.5),
        ("udah|sudah|udh|dah|mau|hampir habis|abis", MEDIUM), ("habis|abis", LIGHT),
        # Hindi in Devanagari
        ("री ऑर्डर|आर्डर", STRONG), ("रीऑर्डर|रिऑर्डर|रीआर्डर", STRONG), ("@last बार|टाइम|वाला|वाली", 1.5),
        ("एक और", 1.5), ("और .. @unit", MEDIUM), ("@unit .. और", 1.5), ("खत्म", MEDIUM), ("हमेशा वाला|वाली", MEDIUM),
    ],
    "recommend": [
        ("@recommend", STRONG), ("should i .. @buy|get", MEDIUM), ("que|o compro|comprar|compre|comprarle|comprarlo|comprarla", MEDIUM),
        ("kya lu|lun|le|lena|loon|kharidu|khareedu", MEDIUM), ("what to buy|get", MEDIUM), ("looking for", 1.5),
        ("busco|buscando|procuro|procurando|dhundh*", 1.5), ("idea|ideas|ideia|ideias", LIGHT),
        ("@which .. @best", 2.5), ("@best .. @which", 2.5), ("@best", LIGHT), ("best seller|sellers|selling", MEDIUM),
        ("most popular", MEDIUM), ("popular", LIGHT), ("mas|mais vendido|vendidos", MEDIUM),
        ("@help .. @choose", STRONG), ("@choose", LIGHT), ("@gift", LIGHT), ("@gift for|para|pra|ke", MEDIUM),
        ("something for|nice", 1.5), ("algo para|pra|bom|bueno", 1.5), ("kuch|koi accha|acha|achha|badhiya", 1.5),
        ("kuch .. batao", 1.5), ("koi .. batao", 1.5), ("@best product|products|producto|produto", 1.5),
        ("@which .. should", MEDIUM), ("@which .. lena|chahiye|comprar|compro|buy", MEDIUM),
        ("good|bueno|bom for|para|pra", 1.5),
        ("sahi|accha|achha|acha|acchi|achhi|achi|best|badhiya|better rahega|rahegi|rhega|rahenge", MEDIUM),
        ("mere|meri liye kya", 1.5), ("conviene|convem", 1.5), ("goes|go well|together with", 1.5),
        ("combina|combinan|combinam", 1.5), ("sirve|serve para|pra", 1.5), ("me sirve|serve", 1.5),
        ("bikta|bikti|bikne|bikte", 1.5), ("sabse accha|achha|acha|best|badhiya|zyada|jyada", 1.5),
        ("top picks|sellers|rated|products", MEDIUM), ("options", LIGHT), ("trending|trend|trends", 1.5),
        ("must .. have|haves|try", 1.5), ("new arrivals", 1.5), ("starter|beginner|beginners kit|set|pack", 1.5),
        ("people|customers|clients|everyone .. buy|usually|love|prefer|like", 1.5),
        ("cual|qual|cuales|quais .. llevo|levo|llevar|levar", MEDIUM), ("@which .. @buy", MEDIUM),
        ("favorite|favourite|favorites|favourites", LIGHT),
        # Indonesian
        ("yang|yg bagus|enak|oke|cocok|recommended|worth", MEDIUM),
        ("paling bagus|enak|laris|laku|cocok|populer|favorit|rekomen", MEDIUM), ("cocok buat|untuk|gak|ga|ngga", 1.5),
        ("cocok", LIGHT), ("bagusnya|enaknya", 1.5), ("cari|nyari|mencari|cariin|nyariin", 1.5),
        ("@gift buat|untuk", MEDIUM), ("buat|untuk @gift", MEDIUM), ("bingung", 1.5), ("bingung .. @choose", STRONG),
        ("yang|yg mana", MEDIUM), ("mana yang|yg", MEDIUM), ("buat|untuk pemula", 1.5),
        ("produk|barang terlaris|terbaik|favorit|unggulan|populer", 1.5),
        # Hindi in Devanagari
        ("सबसे अच्छा|अच्छी|अच्छे|बढिया|बेस्ट|ज्यादा", 1.5), ("क्या लूं|लू|लें|लेना|लेनी|खरीदूं|खरीदू", MEDIUM),
        ("कुछ .. बताओ|बताइए|बताइये|बताएं|बतायें", 1.5), ("कोई .. बताओ|बताइए|बताइये|बताएं", 1.5),
        ("कुछ|कोई अच्छा|अच्छी|बढिया", 1.5), ("अच्छा|अच्छी|बढिया|बेस्ट|सही|बेहतर रहेगा|रहेगी|रहेंगे", MEDIUM),
        ("@which .. लेना|लूं|लें|चाहिए|खरीदूं", MEDIUM), ("@gift के|की", MEDIUM), ("मेरे|मेरी लिए क्या", 1.5),
    ],
    "sale": [
        ("@sale", 2.5), ("@cheap", LIGHT), ("black friday", 2.5), ("cyber monday", 2.5), ("hot sale", 2.5),
        ("code|codigo", HINT), ("special price|prices|offer", MEDIUM),
        ("precio|precios|preco|precos especial|especiales|especiais", MEDIUM), ("scheme|schemes", 1.5),
        ("gratis|free ongkir", STRONG), ("harbolnas", 2.5), ("lebih murah", 1.5), ("harga spesial|khusus", MEDIUM),
        ("कोड", HINT),
    ],
    "human": [
        ("@agent", MEDIUM), ("@talk .. @agent", STRONG), ("@agent .. @talk", STRONG), ("@talk .. @someone", STRONG),
        ("@someone .. @talk", STRONG), ("@connect .. @someone", STRONG), ("@connect .. @agent", STRONG),
        ("real @someone", 2.5), ("@someone real", 2.5), ("@someone de verdade|verdad", 2.5),
        ("@want|get .. @someone", MEDIUM), ("@someone .. atender|atienda|atiende|attend|serve|ayude|ajude", MEDIUM),
        ("atender|atienda|atiende|atenda .. @someone|@agent", MEDIUM), ("@call me", 2.5), ("me .. @call", 2.5),
        ("mujhe .. @call", 2.5), ("@call .. karo|kijiye|karen|kar", 2.5), ("@call", LIGHT), ("@talk", LIGHT),
        ("customer service|care|support|services", 2.5), ("atencion|servicio al cliente", 2.5), ("atendimento", MEDIUM),
        ("suporte|soporte|support|helpdesk", MEDIUM), ("help desk", MEDIUM), ("sac", LIGHT),
        ("atencion|atendimento|attention|service personalizad*|personal", MEDIUM),
        ("personal attention|service", MEDIUM), ("complaint|complain|queja|reclamo|reclamacao|shikayat", LIGHT),
        ("@help", HINT), ("not a bot", MEDIUM), ("are you a bot", LIGHT),
        # Indonesian: "min" (admin) is how customers address the shop, so "admin" alone is no request
        ("@talk .. admin|min|mimin|cs", STRONG), ("@connect .. admin|cs", STRONG),
        ("@someone asli|beneran|sungguhan|nyata", 2.5), ("mau|minta|pengen|ingin .. admin|cs|@agent|@someone", MEDIUM),
        ("@call saya|sy|aku", 2.5), ("layanan pelanggan", 2.5), ("bukan bot", MEDIUM), ("ini|kamu|km bot", LIGHT),
        # Hindi in Devanagari
        ("कस्टमर केयर|सर्विस|सपोर्ट", 2.5), ("ग्राहक सेवा", 2.5), ("सपोर्ट", MEDIUM), ("मुझे .. @call", 2.5),
        ("@call .. करो|कीजिए|कीजिये|करें|कर|करिए", 2.5), ("@talk करनी|करना|कराओ|करवाओ|कराइए|करवा|कराना", 1.5),
        ("असली|रियल @someone|@agent", 2.5), ("बॉट नहीं", MEDIUM),
    ],
    "thanks": [
        ("@thanks", MEDIUM), ("@thanks for|por|pela|pelo|pelas|pelos", STRONG), ("emoji_pray", LIGHT), ("@bye", LIGHT),
        ("@ack", HINT), ("emoji_heart", 0.75), ("muy amable", 1.5), ("very|so kind", 1.5), ("muito gentil", 1.5),
        ("love it", 1.5), ("see you", LIGHT), ("hasta luego", LIGHT), ("ate mais|logo", LIGHT), ("bye bye", LIGHT),
        ("have a nice|good day", LIGHT),
        ("terima|trima|terimah kasih|kasi|ksh", MEDIUM), ("sampai|sampe jumpa|ketemu", LIGHT), ("थैंक|थेंक यू|यु", MEDIUM),
    ],
    "greet": [
        ("@greet", LIGHT), ("good morning|afternoon|evening|day", 1.5), ("morning", LIGHT), ("buenos dias", 1.5),
        ("buen dia", 1.5), ("buenas tardes|noches", 1.5), ("buenas", LIGHT), ("bom dia", 1.5), ("boa tarde|noite", 1.5),
        ("e ai", 1.5), ("eae|eai", LIGHT), ("tudo bem|bom", 1.5), ("td bem|bom", 1.5), ("que tal", 1.5),
        ("como estas|esta|vai", 1.5), ("kaise ho|hain|hai", 1.5), ("kya haal", 1.5), ("how are you|u", 1.5),
        ("how r u", 1.5), ("whats up", 1.5), ("wassup|sup|hru", LIGHT), ("ram ram", 1.5), ("sat sri akal", 1.5),
        ("radhe radhe", 1.5), ("assalamualaikum|assalamu", 1.5), ("que onda", 1.5), ("saludos|saudacoes", LIGHT),
        ("salam alaikum", 1.5), ("hi|hello|hey there", 1.5),
        # Indonesian: "hai" alone (PATTERNS), as Hindi "hai" is "is"
        ("selamat|slamat|met pagi|siang|sore|malam", 1.5), ("pagi|siang|malam", LIGHT),
        ("hai|pagi|siang|sore|malam kak|kakak|min|mimin|admin|gan|sis|bos|semua", 1.5), ("apa kabar", 1.5),
        ("permisi|misi|punten", LIGHT),
        # Hindi in Devanagari
        ("राम राम", 1.5), ("राधे राधे", 1.5), ("जय श्री कृष्णा|कृष्ण|राम", 1.5), ("कैसे हो|हैं|है", 1.5),
        ("क्या हाल", 1.5), ("शुभ प्रभात|संध्या|रात्रि", 1.5), ("गुड मॉर्निंग|मोर्निंग|इवनिंग|ईवनिंग", 1.5),
        ("सत श्री अकाल", 1.5),
    ],
    "preferences": [
        ("preference*|preferencia*", MEDIUM), ("my interests", MEDIUM), ("mis intereses", MEDIUM),
        ("meus interesses", MEDIUM),
        ("preferensi*", MEDIUM), ("minat saya|sy|ku", MEDIUM), ("मेरी पसंद", MEDIUM), ("प्रेफरेंस*", MEDIUM),
    ],
    # Common questions the bot has no flow for: their words must not pull towards an intent.
    "fallback": [
        ("gift card|cards", 2.5), ("tarjeta|cartao de regalo|presente", 2.5), ("cash on delivery", STRONG),
        ("do you @send|deliver|ship .. to|internationally|overseas|abroad", STRONG), ("hacen envios a|al", 2.5),
        ("entregam|enviam em|para", 2.5), ("shipping cost|costs|fee|fees|price", 2.5), ("out of stock", 1.5),
        ("address|direccion|endereco|email|correo", LIGHT),
        ("place|make|hacer|fazer|realizar a|an|un|um order|pedido|orden", 2.5), ("same|next day", STRONG),
        ("mesmo|mismo dia", STRONG), ("gift wrap|wrapping", 2.5), ("phone number", 1.5),
        ("return|returns|refund|devolucion|devolver|devolucao|reembolso|troca|trocar|exchange", MEDIUM),
        # Indonesian
        ("ongkir*", 2.5), ("ongkos kirim", 2.5), ("cod", STRONG), ("bayar di|ditempat|tempat", STRONG),
        ("bisa @send|dikirim .. ke", STRONG), ("kirim ke luar", STRONG), ("alamat", LIGHT),
        ("retur|refund|tukar|pengembalian|balikin|dikembalikan", MEDIUM), ("stok|stock habis|kosong", 2.5),
        ("cara pesan|order|beli|bayar", 2.5), ("kartu hadiah", 2.5), ("bungkus kado", 2.5),
        ("hari yang sama", STRONG),
        # Hindi in Devanagari
        ("कैश ऑन डिलीवरी", STRONG), ("सीओडी", STRONG), ("पता", LIGHT), ("रिटर्न|रिफंड|वापसी|एक्सचेंज", MEDIUM),
        ("डिलीवरी|शिपिंग चार्ज|चार्जेस|शुल्क", 2.5), ("गिफ्ट कार्ड", 2.5), ("आउट ऑफ स्टॉक", 1.5),
    ],
}

# Regular expressions searched in the normalised text, with their weights.
PATTERNS: dict[str, list[tuple[str, float]]] = {
    "order_status": [(r"\b(order|pedido|orden)( no| number| numero| num)? ?\d{3,}\b", 1.5)],
    "sale": [(r"\b\d{1,2} ?(off|percent|por ?ciento|por ?cento|pct)\b", 2.5)],
    "greet": [(r"^(yo+|hey+a?|hi+ya|hai+)$", LIGHT)],
}

# ---------------------------------------------------------------- opting out and back in

# Words that may surround an opt-out or opt-in command without changing it ("stop please",
# "STOP thank you", "band karo", "baja por favor"). Objects ("stop messages") are removed too.
COMMAND_FILLER = frozenset((
    "please pls plz plx plox pleas kindly now asap immediately right away just it this these that all me my us "
    "the i want to you u thanks thank thx ty ok okay hi hello hey sir maam dear por favor porfa porfis pf pfv "
    "pfvr fav ya ahora ahi agora ja obrigado obrigada gracias ji bhai bhaiya yaar abhi jaldi ab karo kar kr kro "
    "krdo do kardo kijiye karen karein kare karna krna hai na mujhe hamein send sending receive receiving "
    "getting get any more again de a el la los las o os as um uma un una from list lista da del do desta dessa "
    "esta essa your su sua tu seu voces ustedes ye yeh sab saare emoji_pray emoji_ok emoji_wave "
    # Indonesian; "kirim" (send) too, so "berhenti kirim promo" is "berhenti"
    "tolong mohon dong donk deh aja saja yah yaa kak kakak min mimin admin gan sis bos sekarang skrg dulu saya sy "
    "aku gue gw lagi semua ini itu terima kasih makasih mksh kirim kirimin kirimkan "
    # Hindi in Devanagari; not "मत" (don't), nor "है" ("बंद है?" asks whether the shop is closed)
    "कृपया प्लीज प्लिज अभी जी भाई भैया यार मुझे हमें ये यह सब सारे करो कर कीजिए कीजिये करें करिए करिये "
    "करना करनी दो दीजिए दें देना दे अब जल्दी तुरंत धन्यवाद शुक्रिया ओके मेरे मेरा मेरी से और ना"
).split())

OPT_OBJECTS = frozenset((
    "message messages msg msgs sms text texts texting promotion promotions promo promos offer offers deal deals "
    "marketing notification notifications spam ads whatsapp whatsapps mail mails email emails mensaje mensajes "
    "promocion promociones oferta ofertas notificacion notificaciones publicidad mensagem mensagens promocao "
    "promocoes notificacao notificacoes propaganda "
    # Indonesian: not "pesan", which is also "to order" ("gak mau pesan lagi")
    "promonya notif notifnya notifikasi broadcast bc iklan info "
    "मैसेज मेसेज मैसेजेस मैसेजिस मेसेजेस मैसेजस संदेश एसएमएस ऑफर ऑफर्स प्रमोशन प्रोमो नोटिफिकेशन व्हाट्सएप "
    "व्हाट्सऐप मेल ईमेल स्पैम विज्ञापन"
).split())

# Whole commands, as carriers and WhatsApp businesses treat them; compared after filler and objects are
# removed from both sides, so "darme de baja por favor" and "stop sending messages pls" are commands too.
STOP_COMMANDS = (
    "stop", "stopall", "end", "quit", "cancel", "unsubscribe", "unsub", "optout", "opt out",
    "revoke", "remove", "stop spamming",
    "baja", "darme de baja", "dame de baja", "denme de baja", "parar", "para", "paren", "pare", "detener", "deten",
    "alto", "basta", "ya basta", "salir", "cancelar", "desuscribir", "desuscribirme", "cancelar suscripcion",
    "cancelar subscripcion",
    "sair", "parem", "chega", "descadastrar", "descadastrarme", "descadastre", "remover", "cancelar inscricao",
    "cancelar assinatura",
    "band", "bandh", "rok", "roko", "rok dijiye", "mat bhejo", "mat bhejna", "mat bhejiye",
    "berhenti", "berhentiin", "hentikan", "berhenti langganan", "berhenti berlangganan", "stop langganan",
    "batal langganan", "batalkan langganan", "unreg", "jangan ganggu",
    "बंद", "बन्द", "रोको", "रोक", "स्टॉप", "स्टाप", "अनसब्सक्राइब", "मत भेजो", "मत भेजना", "मत भेजिए", "मत भेजिये",
    "मत भेजें",
)
# Commands that opt out only with an object named: "no more messages", "messages nahi chahiye", but not a
# bare "no more" or "nahi chahiye", which answer a question.
STOP_COMMANDS_WITH_OBJECT = ("no", "nahi", "nahi chahiye", "nao", "nao quero", "no quiero", "dont want",
                             "do not want", "mat", "chega de", "no mas", "nao quero mais",
                             "gak mau", "ga mau", "gk mau", "nggak mau", "tidak mau", "tdk mau", "gamau", "gak usah",
                             "ga usah", "nggak usah", "tidak usah", "gausah", "jangan", "jgn", "gak perlu",
                             "tidak perlu", "नहीं चाहिए", "नही चाहिए", "नहीं", "मत")
START_COMMANDS = (
    "start", "unstop", "resume", "subscribe", "resubscribe", "opt in", "optin", "restart", "sign up",
    "alta", "darme de alta", "dame de alta", "iniciar", "comenzar", "empezar", "reanudar", "suscribir", "comecar",
    "suscribirme", "reactivar", "activar", "volver a suscribir",
    "reativar", "ativar", "inscrever", "me inscrever", "inscrever de novo", "voltar a receber",
    "shuru", "chalu", "dobara shuru", "phir se shuru", "fir se shuru", "wapas chalu", "vapas chalu", "wapas shuru",
    "wapas start", "vapas start",
    "mulai", "aktifkan", "aktifin", "langganan", "berlangganan",
    "शुरू", "शुरु", "चालू", "फिर से शुरू", "फिर से शुरु", "दोबारा शुरू", "दुबारा शुरू", "वापस शुरू", "वापस चालू",
    "फिर से चालू", "स्टार्ट", "सब्सक्राइब", "फिर से सब्सक्राइब",
)

_OBJ = (r"(messages?|msgs?|sms|texts?|promotions?|promos?|offers?|deals?|marketing|notifications?|spam|ads|"
        r"whatsapps?|e ?mails?|mensajes?|promociones|notificaciones|ofertas|publicidad|mensagens|mensagem|"
        r"promocoes|notificacoes|propaganda)")
# Indonesian objects: "pesan" (messages) is one here, where it follows "kirim" or a negation.
_OBJ_ID = r"(pesan|promo|notif|notifikasi|broadcast|bc|iklan|info|spam|chat)(nya|2)?\b"  # not "pesanan" (the order)
_NEG_ID = r"(jangan|jgn|(gak|ga|gk|nggak|ngga|enggak|tidak|tdk) (usah|perlu)|gausah)"
_NO_ID = r"((gak|ga|gk|nggak|ngga|enggak|tidak|tdk) mau|gamau|ogah)"
# Devanagari words have no \b after a final consonant ("बंद" in "बंदा"): written between spaces.
_OBJ_HI_WORDS = (r"(मैसेज|मेसेज|मैसेजेस|मैसेजिस|मेसेजेस|मैसेजस|संदेश|एसएमएस|ऑफर|ऑफर्स|प्रमोशन|प्रोमो|नोटिफिकेशन|"
                 r"व्हाट्सएप|व्हाट्सऐप|मेल|ईमेल|स्पैम|विज्ञापन)")
_OBJ_HI = r"(?<!\S)" + _OBJ_HI_WORDS
_DO_HI = r"(करो|कर|कर दो|करदो|कीजिए|कीजिये|करें|करिए|करना)(?!\S)"

# Opt-out phrases found anywhere in a message, unless negated just before ("don't stop sending deals").
STOP_PHRASES = (
    r"\bunsubscribe\b", r"\bunsub\b", r"\bopt ?out\b", r"\boptout\b",
    r"\bstop (messaging|texting|contacting|spamming|emailing|bothering|whatsapping|writing)( to)?( me| us)?\b",
    # "stop sending" opts out when what is sent is messages, or nothing is named: not "stop sending me the
    # wrong size"
    r"\bstop sending( me| us)?( (all |the |these |your |this |those |any |more )?" + _OBJ + r"\b|"
    r" (these|this|those|stuff|crap|junk|anything|things|it)\b| (please|pls|plz|now|thanks|thank you)\b|$)",
    r"\bstop (all |the |these |your |this )?" + _OBJ + r"\b",
    r"\bremove me\b", r"\btake me off\b",
    r"\b(remove|delete|take|eliminen|eliminar|elimina|borren|borrar|borra|quiten|quitar|quita|saquen|sacar|saca|tira|"
    r"tire|tirem|remova|removam|remover|exclua|excluam|excluir)\w*( me| mi numero| my number| meu numero| mi telefono|"
    r" meu telefone| mi contacto| meu contato)? (off |out of )?(from |de |da |of )?(la |su |esta |tu |sus |sua |essa |"
    r"dessa |desta |your |the |this |ur )?(lista|list|mailing list|broadcast)\b",
    r"\b(delete|remove) my (number|contact|details)\b",
    r"\b(dont|do not|never) (message|text|contact|msg|whatsapp|write to|spam) (me|us)\b",
    r"\b(dont|do not|never) send (me|us) (any |anymore |more |these |your )*(" + _OBJ[1:-1] + r"|anything|stuff)\b",
    r"\bno more " + _OBJ + r"\b", r"\b(dont|do not) want (any |your |these )?(more )?" + _OBJ + r"\b",
    r"\b(dar|darme|dame|denme|den) de baja\b", r"\bde baja\b",
    r"\b(no|ya no) (quiero|deseo|quero) (volver a )?(recibir )?(mas )?(sus |los |las |tus )?" + _OBJ + r"\b",
    r"\bno me (manden|envien|escriban|mande|envie|escriba|contacten|contacte)( mas)?\b",
    r"\b(dejen|deja|deje|dejar) de (enviar|mandar|escribir|molestar|contactar)",
    r"\bno mas " + _OBJ + r"\b", r"\b(cancelar|anular) (la |mi )?(suscripcion|subscripcion)\b",
    r"\bdesuscrib\w*", r"\b(sacar|saquen|saquenme|eliminen|eliminenme|borren|borrenme|quiten|quitenme|quitar|"
    r"eliminar|borrar)(me)? de (la|su|esta|tu|sus) lista",
    r"\b(nao|no) (quero|desejo) (mais )?(receber |recibir )?(mais |mas )?(suas |seus |as |os |essas |esses |estas |estes )?"
    r"(" + _OBJ[1:-1] + r"|nada)\b",
    r"\b(pare|parem|para|parar) de (me )?(mandar|enviar|encher|incomodar)\b", r"\bparar de receber\b",
    r"\bme (tira|tire|tirem|remove|remova|removam|exclui|exclua|excluam) (da|dessa|desta|de sua|da sua) lista\b",
    r"\bdescadastr\w*", r"\bcancelar (a |minha )?(inscricao|assinatura)\b",
    r"\bnao (me )?(mande|mandem|envie|enviem) mais\b", r"\bchega de " + _OBJ + r"\b",
    r"\b" + _OBJ + r" (mat|na) bhej\w*", r"\bmat bhej\w*", r"\bbhejna band\b",
    r"\b" + _OBJ + r" (bhejna )?bandh? (karo|kar|kardo|kijiye|kare|karein|kr)\b",
    r"\b" + _OBJ + r" nahi? chahiye\b",
    # Indonesian
    r"\b" + _NEG_ID + r" (di)?kirim\w*( (saya|sy|aku))?( " + _OBJ_ID + r")*( (lagi|terus|mulu|melulu)\b|( " + _OBJ_ID
    + r"))", r"\b(berhenti|berhentiin|hentikan|stop|setop) (kirim|ngirim|mengirim|kirimin)\w*( (saya|sy|aku))?"
    r"( " + _OBJ_ID + r"| (lagi|ya|dong|aja|deh|kak|min)\b|$)", r"\b(berhenti|stop|batal|batalkan|cancel|unsub) (ber)?langganan\b",
    r"\bunreg\b", r"\b(berhenti|stop|jangan|jgn) (spam|ganggu|hubungi)\w*", r"\b(jangan|jgn) (chat|wa|sms|spam)\w*"
    r"( (saya|sy|aku))? lagi\b", r"\b(hapus|keluarkan|keluarin|delete)"
    r" (nomor|nomer|no) (saya|sy|aku|hp saya)\b", r"\b(hapus|keluarkan|keluarin)( saya| sy| aku| nomor saya| nomer saya)?"
    r" dari (daftar|list|broadcast|grup)\b", r"\b" + _NO_ID + r" (terima|nerima|dapat|dapet|menerima) " + _OBJ_ID,
    # Hindi in Devanagari
    _OBJ_HI + r" (मत|ना|न|नहीं|नही) भेज", r"(?<!\S)(मत|ना) भेज", r"(?<!\S)भेजना (बंद|बन्द)(?! (मत|ना|न|नहीं)(?!\S))",
    _OBJ_HI + r" (भेजना )?(बंद|बन्द) " + _DO_HI, _OBJ_HI + r" (नहीं|नही|नहि) चाहिए", r"(?<!\S)अनसब्सक्राइब",
)
START_PHRASES = (
    r"\bresubscribe\b", r"\b(re ?)?subscribe (me )?(again|back)\b", r"\bopt (me )?(back )?in\b",
    r"\bstart (sending|messaging|texting)\b", r"\bresume (sending|" + _OBJ[1:-1] + r")\b",
    r"\b(want|like|wanna) to (get|receive|have) (your |the )?" + _OBJ + r" (again|back)\b",
    r"\bsend me (your |the )?" + _OBJ + r" again\b",
    r"\b(volver|vuelvan|vuelve) a (recibir|enviar|mandar)\b", r"\b(darme|dame|dar) de alta\b",
    r"\b(quiero|quero|want to|wanna) (volver a |voltar a )?(recibir|receber|receive|get)( (sus|los|las|as|os|your))?"
    r"( " + _OBJ + r")? (de nuevo|otra vez|nuevamente|de novo|novamente|outra vez|again)\b",
    r"\bquiero (volver a )?recibir (sus |los |las )?" + _OBJ + r"\b",
    r"\b(re)?a(c)?tiv\w* (los |las |mis |as |os |minhas )?" + _OBJ + r"\b",
    r"\b(volver|voltar) a (suscribir|inscrever|cadastrar|subscribe|assinar)\w*",
    r"\bvoltar a (receber|mandar|enviar)\b", r"\bquero (voltar a )?receber (as |os |suas |seus )?" + _OBJ + r"\b",
    r"\b(re)?ativar (as |os |minhas )?" + _OBJ + r"\b", r"\b(inscrever|cadastrar) (de novo|novamente)\b",
    r"\b" + _OBJ + r" (phir se |fir se |dobara |wapas |vapas )?(shuru|chalu|start) (karo|kar|kardo|kr)\b",
    r"\b(phir se|fir se|dobara) " + _OBJ + r" bhej\w*", r"\b(phir se|fir se|dobara) (subscribe|shuru|start)\b",
    r"\bsubscribe (karna|karo|kar|kr)\b", r"\b(re ?)?(subscrib|suscrib|inscrev|cadastr)\w*( me)? "
    r"(de nuevo|otra vez|nuevamente|de novo|novamente|outra vez|again|back|dobara|phir se|fir se)\b",
    r"\b" + _OBJ + r" bhejna shuru\b",
    # Indonesian
    r"\b(kirim|kirimin|kirimkan)( saya| sy| aku)?( lagi)?( " + _OBJ_ID + r")+ lagi\b",
    r"\b(kirim|kirimin|kirimkan)( saya| sy| aku)? lagi " + _OBJ_ID,
    r"\b(mau|ingin|pengen|pingin) (dapat|dapet|terima|nerima|menerima)( " + _OBJ_ID + r")+ lagi\b",
    r"\b(aktifkan|aktifin|nyalakan|nyalain|hidupkan)( lagi| kembali)? " + _OBJ_ID,
    r"\b(ber)?langganan (lagi|kembali)\b", r"\bmulai (lagi )?(kirim|ngirim)\w*",
    # Hindi in Devanagari
    _OBJ_HI + r" (फिर से |फिरसे |दोबारा |दुबारा |वापस )?(शुरू|शुरु|चालू|स्टार्ट) " + _DO_HI,
    r"(?<!\S)(फिर से|फिरसे|दोबारा|दुबारा) " + _OBJ_HI_WORDS + r" भेज", _OBJ_HI + r" (फिर से|फिरसे|दोबारा|दुबारा|वापस) भेज",
    r"(?<!\S)(फिर से|फिरसे|दोबारा|दुबारा) सब्सक्राइब",
    _OBJ_HI + r" भेजना (शुरू|शुरु|चालू)", r"(?<!\S)सब्सक्राइब (करना|करो|कर|करें)",
)
# Spellings the opt-out and opt-in phrases above are written with, beyond the words in their patterns:
# a typo in a message is mended towards these ("stop textnig me", "insrcever de novo").
OPT_WORDS = frozenset((
    "messaging texting sending contacting spamming emailing bothering writing message messages "
    "unsubscribe subscribe resubscribe inscrever inscreva inscreve cadastrar cadastra cadastro suscribir "
    "suscribirme suscribete descadastrar desuscribir desuscribirme bhejo bhejna bhejte bhejiye bhejo "
    "activar activen activa ativar ativa reactivar reativar escribir escriban escribirme enviar envien enviarme "
    "mandar manden mandarme mandem receber recibir please favor porfavor berlangganan"
).split())

# Words that negate an opt-out or opt-in phrase when they come shortly before it.
NEGATORS = frozenset("dont never not didnt doesnt wont cant shouldnt nunca nao no mat "
                     "jangan jgn gak ga gk nggak ngga enggak tidak tdk gausah gamau "
                     "मत नहीं नही ना न".split())

# ---------------------------------------------------------------- choosing a language

# Words that may stand around a language's name (bot.core.languages.NAMES) in a message that chooses it:
# "in english please", "español por favor", "pakai bahasa indonesia dong", "hindi me baat karo", "हिंदी में".
# A message with any other word ("do you ship to indonesia?") only mentions a language.
LANGUAGE_FILLER = frozenset((
    "please pls plz plis kindly in language lang speak talk reply answer write use switch change to can could "
    "you u i do prefer want only just ok okay thanks hi hello hey sir maam "
    "por favor porfa porfis en idioma lengua habla hablas hablame hable responde contesta escribe cambia cambiar "
    "a al puedes puede quiero prefiero solo hola gracias vale mejor "
    "pfv pf em lingua fala fale falar responda escreve muda mudar para pra pode quero prefiro so oi ola obrigado "
    "obrigada "
    "me mein mai main mei bhasha baat bat karo kare karein kijiye kro krdo bolo boliye likho ji bhai chahiye "
    "chaiye mujhe sirf "
    "pakai pake gunakan dalam bahasa bhs bisa bs boleh tolong mohon dong donk aja saja ya yah kak kakak min admin "
    "gan sis ganti ke mau pengen ingin minta halo hai oke sih deh "
    "में मे भाषा बात करो करें कीजिए कीजिये बोलो बोलिए लिखो प्लीज कृपया जी भाई चाहिए मुझे सिर्फ ही"
).split())

# ---------------------------------------------------------------- text details

EMOJI = {
    "🙏": "emoji_pray", "👍": "emoji_ok", "👌": "emoji_ok", "👋": "emoji_wave", "❤": "emoji_heart",
    "♥": "emoji_heart", "😍": "emoji_heart", "🥰": "emoji_heart", "💕": "emoji_heart", "💖": "emoji_heart",
    "😘": "emoji_heart", "📦": "emoji_package", "🚚": "emoji_truck", "🎁": "emoji_gift",
}

# Real words that sit one typo away from a cue word: never "corrected" into it.
PROTECTED = frozenset((
    # English
    "there here were what that then them they this thin think thinks thing things older border recorder other "
    "others trick truck trace crack value statue states human humor pacage personal present sell sells seller "
    "sold some same sane sale salt tale tail deal dear head heal real read reach teach each sent send rent "
    "offer often after water later hater order orders come came home some done gone bone tone zone cone "
    "people purple apple helps hello hells shell agents urgent aged track tracks stack snack black block clock "
    "cancel camel panel level lovely price prices prize pride bride gifted lifted drift "
    "where while white whole whose woman women cheese sheet sweet tweet hours house mouse horse verse "
    # Spanish
    "perdido pedida pedidos puedo puede pueden pues para pero porque como cuanto cuanta todo toda todos "
    "tengo tiene tienen tenemos estoy estas esta estan estamos estaba persona personal mismo misma llena lleno "
    "lleva llevo llevar nueva nuevo nuevos buena bueno buenos mejor peor gracia gratis regla regala reloj "
    "ofrece ofrecen hacer hago hace hacen dicen decir quiero quieres envia enviar salsa saldo sala salir "
    "agente agenda tarde tardes noche noches semana mes dias hola horario "
    # Portuguese
    "pedindo pedir pessoal pessoa pessoas tudo todo voce vocês voces quero queria obrigado agora ainda "
    "entendo entendi chegar chega cheguei preco precos valor valeu vale pacote pacotes compra comprar "
    "presente promover cupom cupons gente legal mesmo mesma certo certa boa bom dia noite tarde horario "
    # Hindi in Latin script
    "kya kyu kyun hai hain tha thi ho hoga hogi kab kaise kaun kuch koi aap aapka aapki mera meri mujhe "
    "bhai yaar accha theek nahi abhi bhi sab wala wali karo karna kiya kar de do le lo lena dena milna "
    "order karo baat batao bolo bola dekho dekhna chahiye paisa paise sakte sakta sakti skte hota hoti hote raha "
    "rahi rahe gaya gayi gaye karte karta karti wale kaisa kaisi kitna kitne kitni kyun kyon jab tab agar lekin "
    "aur acha sahi galat pata samajh chalo chalega thoda zyada jyada bahut bohot sirf kuchh kahin yahan wahan "
    # Indonesian: "pacar" is no typo of "parar", nor "bakal" of "batal", "salah" of "salam"
    "bakal bareng bener buka bukti bulan cepet cowok dagang dalam dingin galau garis gatau gosong harus hujan ilang "
    "jaket jarang jelas kamar karena keren kontak kuning lapar malah mampir merah mulia pacar pasti polos preorder pulang "
    "sabar salah segera sering sinar susah tarik uang warna"
).split())
